// A ThreadPoolExecutor task may start a Process and return without joining it, as in
// Python (whose program joins it at exit): a worker the pool lets go (shutdown, its
// retirement) ends after such non-daemon children, and stops its daemon ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Event, SharedQueue, ThreadPoolExecutor } from '../../src/index.js';
import { fileAppears, leftChildren } from '../fixtures/left-children-tasks.js';
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
  it('a worker stopped while its initializer runs ends after the initializer, and after the non-daemon child it started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concur-init-'));
    try {
      const pool = new ThreadPoolExecutor({ maxWorkers: 1, initializer: leftChildren.slowInit, initargs: [dir] });
      const task = pool.submit(leftChildren.leave, [], [], new SharedQueue<number>(), null, null);
      await fileAppears(join(dir, 'started'));
      const closing = pool.shutdown({ cancelFutures: true }); // the worker holds no task: STOP goes now
      assert.ok(task.cancelled());
      writeFileSync(join(dir, 'release'), '');
      await closing;
      assert.ok(existsSync(join(dir, 'done')), 'the initializer ran to its end');
      assert.ok(existsSync(join(dir, 'child')), 'the non-daemon child it started ran to its end');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
