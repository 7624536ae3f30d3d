import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokenExecutorError, Full, type PoolEvents, ThreadPoolExecutor, TimeoutError, WorkerCrashedError } from '../../src/index.js';
import { broken } from '../fixtures/broken-tasks.js';
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

describe('ThreadPoolExecutor failures', () => {
  it('a worker that exits mid-task fails only that Future with WorkerCrashedError, and is replaced', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });
    const others = Array.from({ length: 20 }, (_, i) => pool.submit(tasks.sleepy, 1, i));
    const crash = pool.submit(tasks.exit, 7);
    const more = Array.from({ length: 20 }, (_, i) => pool.submit(tasks.inc, i));
    const err = await crash.exception();
    assert.ok(err instanceof WorkerCrashedError, String(err));
    assert.equal(err.exitCode, 7);
    assert.match(err.message, /running task exit .* exited with code 7/);
    assert.deepEqual(await Promise.all(others), Array.from({ length: 20 }, (_, i) => i));
    assert.deepEqual(await Promise.all(more), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal(await pool.submit(tasks.add, 2, 2), 4);
  });

  it('tasks batched behind a crashing task on the same worker are run again, not lost', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    // Warm up so the pool batches tiny tasks, then put the crash in the middle of a batch.
    for await (const _ of pool.map(tasks.inc, Array.from({ length: 2000 }, (_, i) => i))) void _;
    const before = Array.from({ length: 100 }, (_, i) => pool.submit(tasks.inc, i));
    const crash = pool.submit(tasks.exit, 3);
    const after = Array.from({ length: 100 }, (_, i) => pool.submit(tasks.inc, i));
    assert.ok((await crash.exception()) instanceof WorkerCrashedError);
    assert.deepEqual(await Promise.all([...before, ...after]), [...before, ...after].map((_, i) => (i % 100) + 1));
  });

  it('a result sent just before its worker crashed counts: the task is not run again', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const counter = flag(1);
    // Warm up so the next two travel in one batch; the async one sends the first's result, then exits.
    for (let i = 0; i < 3; i++) await pool.submit(tasks.countRun, flag(1), i);
    for (let round = 0; round < 10; round++) {
      const sent = pool.submit(tasks.countRun, counter, round);
      const crash = pool.submit(tasks.exitSoon, 9);
      assert.ok((await crash.exception()) instanceof WorkerCrashedError);
      assert.equal(await sent, round);
      assert.equal(Atomics.load(counter, 0), round + 1, `round ${round}: the task whose result was sent ran again`);
    }
  });

  it('an uncaught error a task left behind crashes its worker with a message that says so', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = pool.submit(tasks.crashLater);
    assert.equal(await f, 'returned');
    const next = pool.submit(tasks.sleepy, 100, 'next');
    // The crash happens between tasks or during `next`; either way nothing is lost or left pending.
    const outcome = await next.result().then(
      (v) => v,
      (e: unknown) => e,
    );
    if (outcome instanceof WorkerCrashedError) assert.match(outcome.message, /uncaught in a timer/);
    else assert.equal(outcome, 'next');
    assert.equal(await pool.submit(tasks.inc, 1), 2);
  });

  it('a timeout terminates the worker of a task in a synchronous infinite loop', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = pool.submitWith({ timeout: 100 }, tasks.spin);
    const err = await f.exception();
    assert.ok(err instanceof TimeoutError);
    assert.match((err as Error).message, /task spin .* timed out after 100 ms; its thread was stopped/);
    assert.equal(await pool.submit(tasks.inc, 41), 42);
  });

  it('the timeout clock starts when the task starts, not while it waits for a worker', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = flag();
    const blocked = pool.submit(tasks.blockUntil, f);
    await until(f, 1);
    const timed = pool.submitWith({ timeout: 2000 }, tasks.inc, 1);
    // hold the worker longer than nothing, then release; the queued task must not have timed out
    const waited = pool.submit(tasks.sleepy, 0, 'x');
    Atomics.store(f, 0, 1);
    Atomics.notify(f, 0);
    assert.equal(await blocked, 'released');
    assert.equal(await timed, 2);
    assert.equal(await waited, 'x');
  });

  it('aborting a running task terminates its worker; the pool goes on', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const ac = new AbortController();
    const f = flag();
    const running = pool.submitWith({ signal: ac.signal }, tasks.startedThenHang, f);
    await until(f, 1);
    ac.abort(new Error('user cancelled'));
    await assert.rejects(running.result(), /user cancelled/);
    assert.equal(await pool.submit(tasks.inc, 1), 2);
  });

  it('an argument that cannot be cloned fails its own Future, naming the argument; the rest go on', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const good1 = pool.submit(tasks.echo, 1);
    const bad = pool.submit(tasks.add, 1, (() => 2) as unknown as number);
    const good2 = pool.submit(tasks.echo, 2);
    const err = (await bad.exception()) as Error;
    assert.ok(err instanceof TypeError);
    assert.match(err.message, /argument 1 \(function <anonymous>\) of task add .* cannot be sent to a worker thread/);
    assert.match(err.message, /could not be cloned/);
    assert.equal(await good1, 1);
    assert.equal(await good2, 2);
  });

  it('a result that cannot be cloned fails its Future with a clear error', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = pool.submit(tasks.returnFunction);
    const ok = pool.submit(tasks.inc, 1);
    await assert.rejects(f.result(), /the task's result cannot be sent back from the worker/);
    assert.equal(await ok, 2);
  });

  it('an error class that does not set its name still comes back under its class name', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const err = (await pool.submit(tasks.unnamed).exception()) as Error;
    assert.equal(err.name, 'QuotaExceeded');
    assert.equal(err.message, 'over quota');
    assert.match(err.stack ?? '', /unnamed/, "the worker's stack comes along");
  });

  it('a task module that cannot load breaks the pool with BrokenExecutorError, without endless respawns', async () => {
    const pool = new ThreadPoolExecutor({ maxWorkers: 2 });
    const first = pool.submit(broken.work, 1);
    const err = await first.exception();
    assert.match(String((err as Error).message), /cannot load task module .*broken-tasks\.ts: this module cannot load in a worker/);
    const later = pool.submit(tasks.inc, 1);
    const laterErr = await later.exception();
    assert.ok(laterErr instanceof BrokenExecutorError);
    assert.match((laterErr as Error).message, /could not load, so the pool is broken/);
    await pool.shutdown();
    assert.equal(pool.stats().workers, 0);
  });

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
