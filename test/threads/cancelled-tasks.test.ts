// Tasks cancelled while they wait in a pool's queue (thread and process pools share the
// scheduler): a cancelled task stops listening to its AbortSignal.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { ProcessPoolExecutor, ThreadPoolExecutor, type Future } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';
import type { Blocker } from '../futures/executor-suite.js';
import { socketBlocker } from '../processes/socket-blocker.js';

const MANY = 100;

/** A task holding a thread pool's only worker until released. */
function threadBlocker(): Blocker {
  const flag = new Int32Array(new SharedArrayBuffer(8));
  const waited = Atomics.waitAsync(flag, 1, 0);
  return {
    fn: tasks.blockUntil,
    args: [flag],
    started: (waited.async ? waited.value : Promise.resolve()).then(() => {}),
    release: () => {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    },
  };
}

type AnyPool = ThreadPoolExecutor | ProcessPoolExecutor;

/** Submits a task that holds the pool's only worker until release(), and waits until it runs. */
async function hold(pool: AnyPool, blocker: () => Blocker | Promise<Blocker>): Promise<{ future: Future<unknown>; release(): void }> {
  const b = await blocker();
  const future = pool.submit(b.fn, ...b.args);
  await b.started;
  return { future, release: b.release };
}

const pools: Array<[string, (options?: { idleTimeout?: number }) => AnyPool, () => Blocker | Promise<Blocker>]> = [
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
  });
}
