// Tasks cancelled while they wait in a pool's queue (thread and process pools share the
// scheduler): a cancelled task stops listening to its AbortSignal, and a queue that holds
// only cancelled tasks holds nothing: its worker goes idle, shutdown ends, and maxQueue
// counts only the tasks still to run.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { Full, ProcessPoolExecutor, ThreadPoolExecutor, type Future } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';
import { socketBlocker } from '../processes/socket-blocker.js';
import type { Blocker } from '../futures/executor-suite.js';
import { threadBlocker } from './thread-blocker.js';

const MANY = 100;

type AnyPool = ThreadPoolExecutor | ProcessPoolExecutor;

/** Submits a task that holds the pool's only worker until release(), and waits until it runs. */
async function hold(pool: AnyPool, blocker: () => Blocker | Promise<Blocker>): Promise<{ future: Future<unknown>; release(): void }> {
  const b = await blocker();
  const future = pool.submit(b.fn, ...b.args);
  await b.started;
  return { future, release: b.release };
}

const pools: Array<[string, (options?: { idleTimeout?: number; maxQueue?: number }) => AnyPool, () => Blocker | Promise<Blocker>]> = [
  ['ThreadPoolExecutor', (options) => new ThreadPoolExecutor({ maxWorkers: 1, ...options }), threadBlocker],
  // A SharedArrayBuffer does not reach a child process: the task waits on a socket.
  ['ProcessPoolExecutor', (options) => new ProcessPoolExecutor({ maxWorkers: 1, ...options }), socketBlocker],
];

for (const [name, make, blocker] of pools) {
  describe(`${name}: tasks cancelled in the queue`, () => {
    it(`${MANY} tasks with signals, cancelled before they start, leave no abort listener`, { timeout: 30_000 }, async () => {
      await using pool = make();
      const b = await hold(pool, blocker);
      const shared = new AbortController();
      const own = Array.from({ length: MANY }, () => new AbortController());
      const futures = [
        ...Array.from({ length: MANY }, (_, i) => pool.submitWith({ signal: shared.signal }, tasks.inc, i)),
        ...own.map((ac, i) => pool.submitWith({ signal: ac.signal }, tasks.inc, i)),
      ];
      for (const f of futures) assert.equal(f.cancel(), true);
      const onShared = getEventListeners(shared.signal, 'abort').length;
      const ownListened = own.filter((ac) => getEventListeners(ac.signal, 'abort').length > 0).length;
      b.release();
      assert.equal(await b.future, 'released');
      assert.equal(onShared, 0, 'listeners on the shared signal');
      assert.equal(ownListened, 0, 'signals of their own still listened to');
      // Aborting later touches none of them.
      shared.abort(new Error('too late'));
      for (const f of futures) assert.equal(f.state, 'CANCELLED');
    });

    it('shutdown({ wait: true }) ends when the queue holds only cancelled tasks', { timeout: 30_000 }, async () => {
      const pool = make();
      const b = await hold(pool, blocker);
      const queued = Array.from({ length: 5 }, (_, i) => pool.submit(tasks.inc, i));
      for (const f of queued) f.cancel();
      const closed = pool.shutdown({ wait: true });
      b.release();
      await closed; // hung here: the worker, finding only cancelled tasks, was never idle
      assert.equal(await b.future, 'released');
    });

    it('a worker that finds only cancelled tasks goes idle (its idleTimeout runs)', { timeout: 30_000 }, async () => {
      await using pool = make({ idleTimeout: 50 });
      const b = await hold(pool, blocker);
      for (let i = 0; i < 5; i++) pool.submit(tasks.inc, i).cancel();
      const exit = new Promise<{ expected: boolean }>((resolve) => pool.once('workerExit', resolve));
      // An idle worker, and its idle timer, no longer keep the program alive: this does.
      const keepAlive = setInterval(() => {}, 1000);
      try {
        b.release();
        assert.equal(await b.future, 'released');
        assert.equal((await exit).expected, true, 'stopped by its idle timeout');
      } finally {
        clearInterval(keepAlive);
      }
    });

    it('maxQueue counts no cancelled task: cancelling the waiting tasks makes room', { timeout: 30_000 }, async () => {
      await using pool = make({ maxQueue: 2 });
      const b = await hold(pool, blocker);
      let next: Future<number>[];
      try {
        for (const f of [pool.submit(tasks.inc, 1), pool.submit(tasks.inc, 2)]) f.cancel();
        next = [pool.submit(tasks.inc, 3), pool.submit(tasks.inc, 4)];
        assert.equal(next[0]!.state, 'PENDING', next[0]!.done() ? String(await next[0]!.exception()) : '');
        assert.equal(pool.stats().queued, 2);
        assert.ok((await pool.submit(tasks.inc, 5).exception()) instanceof Full, 'full again with two live tasks');
      } finally {
        b.release(); // or the pool's disposal would wait for it for ever
      }
      assert.equal(await b.future, 'released');
      assert.deepEqual(await Promise.all(next), [4, 5]);
    });
  });
}
