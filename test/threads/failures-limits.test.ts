// The rest of ThreadPoolExecutor's failures (initializers, limits, options), apart from
// failures.test.ts: together they took 100 s of the test runner's 120 s per-file
// timeout beside a CPU hog.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokenExecutorError, Full, type PoolEvents, ThreadPoolExecutor, TimeoutError, WorkerCrashedError } from '../../src/index.js';
import { environment, tasks } from '../fixtures/tasks.js';

const flag = (n = 2): Int32Array => new Int32Array(new SharedArrayBuffer(4 * n));

/** Resolves when flag[index] leaves 0: an event, never a sleep. */
async function until(f: Int32Array, index: number): Promise<void> {
  const r = Atomics.waitAsync(f, index, 0);
  if (!r.async) return;
  // waitAsync does not keep the event loop alive, and an idle pool worker does not either.
  const keepAlive = setInterval(() => {}, 1000);
  await r.value;
  clearInterval(keepAlive);
}

describe('ThreadPoolExecutor failures: initializers, limits and options', () => {
  it('a failing initializer breaks the pool: every Future fails with BrokenExecutorError', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 2, initializer: tasks.failSetup });
    const fs = [pool.submit(tasks.inc, 1), pool.submit(tasks.inc, 2)];
    for (const f of fs) {
      const err = await f.exception();
      assert.ok(err instanceof BrokenExecutorError);
      assert.match((err as Error).message, /initializer failed in a worker thread: initializer exploded/);
    }
    await pool.shutdown();
  });

  it('runs the initializer with initargs in each worker before its tasks', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 2, initializer: tasks.setup, initargs: ['ready'] });
    assert.deepEqual(await Promise.all([pool.submit(tasks.readSetup), pool.submit(tasks.readSetup)]), ['ready', 'ready']);
  });

  it('a worker that runs out of memory (resourceLimits) fails its task with WorkerCrashedError and is replaced', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1, resourceLimits: { maxOldGenerationSizeMb: 32 } });
    const err = await pool.submit(tasks.hog).exception();
    assert.ok(err instanceof WorkerCrashedError, String(err));
    assert.match((err as Error).message, /memory/i);
    assert.equal(await pool.submit(tasks.inc, 1), 2);
  });

  it('between tasks a worker keeps running the timers and promises its tasks started', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = flag();
    assert.equal(await pool.submit(tasks.timerLater, f, 20), 'scheduled');
    // The worker is now idle; its timer must still fire with no further task to wake it.
    await until(f, 0);
    assert.equal(f[1], 1);
  });

  it('maxTasksPerWorker replaces a worker after that many tasks', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1, maxTasksPerWorker: 3 });
    const counts: number[] = [];
    for (let i = 0; i < 7; i++) counts.push(await pool.submit(tasks.callsHere));
    assert.deepEqual(counts, [1, 2, 3, 1, 2, 3, 1]);
    const ids = new Set<number>();
    // the 7th task was the new worker's first: two more there, three on the next, one on another
    for (let i = 0; i < 6; i++) ids.add(await pool.submit(tasks.threadId));
    assert.equal(ids.size, 3);
  });

  it('idleTimeout stops idle workers; new work starts a new one', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1, idleTimeout: 10 });
    const exited = new Promise<PoolEvents['workerExit']>((resolve) => pool.once('workerExit', (...info) => resolve(info)));
    const id1 = await pool.submit(tasks.threadId);
    const keepAlive = setInterval(() => {}, 1000); // an idle pool does not hold the process open
    const [info] = await exited;
    clearInterval(keepAlive);
    assert.equal(info.expected, true);
    assert.equal(pool.stats().workers, 0);
    const id2 = await pool.submit(tasks.threadId);
    assert.notEqual(id1, id2);
  });

  it('maxQueue: beyond it submit returns a Future failed with Full; the queued ones still run', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1, maxQueue: 2 });
    const f = flag();
    const blocked = pool.submit(tasks.blockUntil, f);
    await until(f, 1);
    const q1 = pool.submit(tasks.inc, 1);
    const q2 = pool.submit(tasks.inc, 2);
    const over = pool.submit(tasks.inc, 3);
    const err = await over.exception();
    assert.ok(err instanceof Full);
    assert.match((err as Error).message, /2 tasks already wait .*maxQueue/);
    Atomics.store(f, 0, 1);
    Atomics.notify(f, 0);
    assert.deepEqual(await Promise.all([blocked, q1, q2]), ['released', 2, 3]);
  });

  it('the env option gives worker threads their own environment', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1, env: { ...process.env, CONCUR_TEST_FLAG: 'thread-env' } });
    assert.equal(await pool.submit(environment.envVar, 'CONCUR_TEST_FLAG'), 'thread-env');
    assert.equal(process.env.CONCUR_TEST_FLAG, undefined, 'the parent environment is untouched');
  });

  it('moves ArrayBuffers in the transfer list instead of copying them', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const buf = new ArrayBuffer(1 << 20);
    const f = pool.submitWith({ transfer: [buf] }, tasks.byteLength, buf);
    assert.equal(await f, 1 << 20);
    assert.equal(buf.byteLength, 0, 'detached here: it was moved, not copied');
  });

  it('a task moves its result back with transfer()', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const buf = await pool.submit(tasks.makeBuffer, 1 << 20);
    assert.ok(buf instanceof ArrayBuffer);
    assert.equal(buf.byteLength, 1 << 20);
    assert.equal(new Uint8Array(buf)[0], 7);
  });

  it('stats() counts workers, queue, completed, failed and latency percentiles', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => pool.submit(tasks.inc, i)));
    await pool.submit(tasks.pay, 1).exception();
    const s = pool.stats();
    assert.equal(s.completed, 50);
    assert.equal(s.failed, 1);
    assert.equal(s.queued, 0);
    assert.ok(s.workers >= 1 && s.workers <= 2);
    assert.equal(s.busy, 0);
    assert.ok(s.runTime.p50 > 0 && s.runTime.p99 >= s.runTime.p50 && s.runTime.max >= s.runTime.p99);
    assert.ok(s.waitTime.p50 >= 0);
  });

  it('shutdown resolves even while a worker is stuck in an infinite loop it was told to leave', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = pool.submitWith({ timeout: 50 }, tasks.spin);
    await pool.shutdown({ wait: true });
    assert.ok((await f.exception()) instanceof TimeoutError);
  });
});
