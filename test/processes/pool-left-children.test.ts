// A process-pool worker is not daemonic (as in CPython), so a task may start a Process
// and return without joining it. When the worker then ends on purpose (shutdown, its
// retirement), it waits for such non-daemon children first, as a Python process joins
// its non-daemonic children at exit, and its daemon children are killed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, ProcessPoolExecutor, SharedQueue, WorkerCrashedError } from '../../src/index.js';
import { procStat } from '../fixtures/procs.js';
import { leftChildren } from '../fixtures/left-children-tasks.js';
import { stoppedWhileInit } from '../fixtures/stopped-while-init.js';
import { alive, allGone } from '../fixtures/run-program.js';

/** Every value put into `q` so far. */
function drain<T>(q: SharedQueue<T>): T[] {
  const out: T[] = [];
  while (!q.empty()) out.push(q.getNowait());
  return out;
}

describe('children a process-pool task leaves running', () => {
  it('shutdown() waits for a non-daemon child the task did not join: what it writes lands first', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const pids = new SharedQueue<number>();
    const out = new SharedQueue<string>();
    const release = new Event();
    await pool.submit(leftChildren.leave, ['mark'], [false], pids, out, release);
    const closing = pool.shutdown();
    release.set();
    await closing;
    assert.deepEqual(drain(out), ['child 0 done']);
  });

  it('a worker retired by maxTasksPerWorker exits only after the non-daemon child its task left', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, maxTasksPerWorker: 1 });
    const pids = new SharedQueue<number>();
    const out = new SharedQueue<string>();
    const release = new Event();
    const exited = new Promise<{ expected: boolean }>((resolve) => pool.once('workerExit', resolve));
    const workerPid = await pool.submit(leftChildren.leave, ['mark'], [false], pids, out, release);
    release.set();
    assert.equal((await exited).expected, true);
    assert.deepEqual(drain(out), ['child 0 done'], 'the child finished before its worker exited');
    assert.ok(!alive(workerPid));
    await pool.shutdown();
  });

  it('a worker stopped by idleTimeout exits only after the non-daemon child its task left', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1, idleTimeout: 1 });
    const pids = new SharedQueue<number>();
    const out = new SharedQueue<string>();
    const release = new Event();
    const exited = new Promise<{ expected: boolean }>((resolve) => pool.once('workerExit', resolve));
    // An idle pool holds no reference (its idle timer is unref'd, as its workers are): this
    // test's program must stay up until the timer retires the worker, or it may end first.
    const up = setInterval(() => {}, 1000);
    try {
      await pool.submit(leftChildren.leave, ['mark'], [false], pids, out, release);
      release.set();
      assert.equal((await exited).expected, true);
    } finally {
      clearInterval(up);
    }
    assert.deepEqual(drain(out), ['child 0 done']);
    await pool.shutdown();
  });

  it('a daemon child is killed when its worker stops at shutdown, while a non-daemon sibling is waited for', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const pids = new SharedQueue<number>();
    const out = new SharedQueue<string>();
    const release = new Event();
    await pool.submit(leftChildren.leave, ['forever', 'mark'], [true, false], pids, out, release);
    const [a, b] = [await pids.get(), await pids.get()];
    const closing = pool.shutdown();
    release.set();
    await closing;
    assert.deepEqual(drain(out), ['child 1 done']);
    await allGone([a!, b!], 5000);
  });

  it('a child that crashes is no trouble: shutdown ends', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const pids = new SharedQueue<number>();
    await pool.submit(leftChildren.leave, ['crash'], [false], pids, null, null);
    await pool.shutdown();
    await allGone([await pids.get()], 5000);
  });

  for (const way of ['forever', 'spin'] as const) {
    it(`a non-daemon child that never ends (${way}): shutdown({ wait: false }) returns, and terminateWorkers() ends the worker and the child`, async () => {
      const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
      const pids = new SharedQueue<number>();
      const workerPid = await pool.submit(leftChildren.leave, [way], [false], pids, null, null);
      const child = await pids.get();
      await pool.shutdown({ wait: false });
      assert.ok(alive(child), 'the child still runs');
      await pool.terminateWorkers();
      await allGone([workerPid, child], 5000);
    });
  }

  it('a worker killed with SIGKILL mid-task leaves no child running, daemon or not', async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const pids = new SharedQueue<number>();
    const task = pool.submit(leftChildren.leave, ['forever', 'spin', 'forever'], [true, false, false], pids, null, null, 'async');
    const children = [await pids.get(), await pids.get(), await pids.get()];
    const workerPid = procStat(children[0]!)!.ppid;
    process.kill(workerPid, 'SIGKILL');
    assert.ok((await task.exception()) instanceof WorkerCrashedError);
    await allGone(children, 5000);
    await pool.shutdown();
  });
  it('a worker stopped while its initializer runs ends after the initializer, and after the non-daemon child it started', () =>
    stoppedWhileInit((options) => new ProcessPoolExecutor(options)));
});
