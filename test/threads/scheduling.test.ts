import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ThreadPoolExecutor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

/** Resolves once flag[1] is at least 1: a task has started. */
async function started(flag: Int32Array): Promise<void> {
  const r = Atomics.waitAsync(flag, 1, 0);
  const keepAlive = setInterval(() => {}, 1000); // waitAsync alone does not keep the loop alive
  if (r.async) await r.value;
  clearInterval(keepAlive);
}

async function queuedBehindOneRunning(pool: ThreadPoolExecutor, fn: typeof tasks.holdFor): Promise<number> {
  const flag = new Int32Array(new SharedArrayBuffer(8));
  const all = Array.from({ length: 6 }, () => pool.submit(fn, 0, flag));
  await started(flag);
  const queued = pool.stats().queued;
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  assert.deepEqual(await Promise.all(all), [0, 0, 0, 0, 0, 0]);
  return queued;
}

/**
 * A pool that has learned `tasks.holdFor` as a task of about 5 ms. The pool learns from
 * the worker's own busy time; on a loaded machine a 5 ms loop preempted at its end
 * measures tens of milliseconds, past the 50 ms that makes a task long. The whole round
 * trip, as this side sees it, bounds what the worker measured: a learning run slower than
 * 25 ms is tried again in a fresh pool (the policy is under test, not the scheduler).
 */
async function poolThatLearnedShort(maxWorkers = 1): Promise<ThreadPoolExecutor> {
  for (let attempt = 1; ; attempt++) {
    const pool = new ThreadPoolExecutor({ maxWorkers });
    await pool.submit(tasks.inc, 0); // the worker is up, so the run below measures the task alone
    const t0 = performance.now();
    await pool.submit(tasks.holdFor, 5, null);
    if (performance.now() - t0 < 25 || attempt === 50) return pool;
    await pool.shutdown();
  }
}

it('a task known to take milliseconds keeps one more at its worker; one known to take long goes alone', async () => {
  await using pool = await poolThatLearnedShort();
  assert.equal(await queuedBehindOneRunning(pool, tasks.holdFor), 4, 'two at the worker, four still queued and cancellable');
  await pool.submit(tasks.holdLong, 80, null); // about 80 ms
  assert.equal(await queuedBehindOneRunning(pool, tasks.holdLong), 5, 'one at the worker, five queued');
});

it('no task waits behind another at a busy worker while the pool has a worker for it (a short task that ran long)', async () => {
  // holdFor is learned as a task of milliseconds, so a worker may hold one more of it;
  // these calls of it run until released. One worker is held; two more calls come. The
  // pool may start a second worker for them: neither may wait behind the held one.
  await using pool = await poolThatLearnedShort(2);
  const a = new Int32Array(new SharedArrayBuffer(8));
  const held = pool.submit(tasks.holdFor, 0, a);
  await started(a);
  try {
    const b = new Int32Array(new SharedArrayBuffer(8));
    const next = [pool.submit(tasks.holdFor, 0, b), pool.submit(tasks.holdFor, 0, b)];
    Atomics.store(b, 0, 1);
    Atomics.notify(b, 0);
    // Both end while the first worker is still held: one waiting behind it never would.
    assert.deepEqual(await Promise.all(next.map((f) => f.result(20_000))), [0, 0]);
  } finally {
    Atomics.store(a, 0, 1);
    Atomics.notify(a, 0);
  }
  assert.equal(await held, 0);
});
