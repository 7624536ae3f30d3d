// A ThreadPoolExecutor task may start a Process and return without joining it, as in
// Python (whose program joins it at exit): a worker the pool lets go (shutdown, its
// retirement) ends after such non-daemon children, and stops its daemon ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, SharedQueue, ThreadPoolExecutor } from '../../src/index.js';
import { leftChildren } from '../fixtures/left-children-tasks.js';
import { stoppedWhileInit } from '../fixtures/stopped-while-init.js';
import { allGone } from '../fixtures/run-program.js';

/** Every value put into `q` so far. */
function drain<T>(q: SharedQueue<T>): T[] {
  const out: T[] = [];
  while (!q.empty()) out.push(q.getNowait());
  return out;
}

describe('children a thread-pool task leaves running', () => {
  it('shutdown() waits for a non-daemon child the task did not join; a daemon sibling is killed', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const pids = new SharedQueue<number>();
    const out = new SharedQueue<string>();
    const release = new Event();
    await pool.submit(leftChildren.leave, ['forever', 'mark'], [true, false], pids, out, release);
    const children = [await pids.get(), await pids.get()];
    const closing = pool.shutdown();
    release.set();
    await closing;
    assert.deepEqual(drain(out), ['child 1 done']);
    await allGone(children, 5000);
  });

  it('a worker retired by maxTasksPerWorker exits only after the non-daemon child its task left', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1, maxTasksPerWorker: 1 });
    const pids = new SharedQueue<number>();
    const out = new SharedQueue<string>();
    const release = new Event();
    const exited = new Promise<{ expected: boolean }>((resolve) => pool.once('workerExit', resolve));
    await pool.submit(leftChildren.leave, ['mark'], [false], pids, out, release);
    release.set();
    assert.equal((await exited).expected, true);
    assert.deepEqual(drain(out), ['child 0 done']);
    await pool.shutdown();
  });
  it('a worker stopped while its initializer runs ends after the initializer, and after the non-daemon child it started', () =>
    stoppedWhileInit((options) => new ThreadPoolExecutor(options)));
});
