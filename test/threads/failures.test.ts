import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { BrokenExecutorError, TaskLoadError, ThreadPoolExecutor, TimeoutError, WorkerCrashedError } from '../../src/index.js';
import { broken } from '../fixtures/broken-tasks.js';
import { tasks } from '../fixtures/tasks.js';
import { EXT_PATTERN } from '../fixtures/source.js';

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

  it('map and starmap name the input that cannot be cloned by its place in the input, chunked or not', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const fn = (() => 2) as unknown as number;
    const failure = async (it: AsyncIterable<unknown>): Promise<Error> => {
      try {
        for await (const _ of it) void _;
      } catch (err) {
        return err as Error;
      }
      assert.fail('the map ended without the error');
    };
    for (const chunksize of [1, 2, 4]) {
      const err = await failure(pool.map(tasks.echo, [1, 2, 3, fn, 5, 6], { chunksize }));
      assert.ok(err instanceof TypeError, String(err));
      assert.match(err.message, /^input 3 of the map \(function fn\) cannot be sent to a worker thread for task echo /, `chunksize ${chunksize}: ${err.message}`);
      assert.match(err.message, /could not be cloned/);
      const star = await failure(pool.starmap(tasks.add, [[1, 2], [3, 4], [5, fn]], { chunksize }));
      assert.match(star.message, /^input 2 of the map, argument 1 \(function fn\), cannot be sent to a worker thread for task add /, `chunksize ${chunksize}: ${star.message}`);
    }
    assert.equal(await pool.submit(tasks.echo, 7), 7);
  });

  it('an object with a method that cannot be cloned (a socket) is named by its class, without the method\'s source', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const socket = new Socket();
    try {
      const err = (await pool.submit(tasks.echo, socket).exception()) as Error;
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /^argument 0 \(Socket\) of task echo .* cannot be sent to a worker thread: DataCloneError: /);
      assert.match(err.message, /function [\w$]+ could not be cloned/);
      assert.doesNotMatch(err.message, /[{}\n]/, 'no function source in the message');
    } finally {
      socket.destroy();
    }
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
    assert.ok(err instanceof TaskLoadError, `a TaskLoadError, as itself: ${String(err)}`);
    assert.match(String((err as Error).message), new RegExp(`cannot load task module .*broken-tasks${EXT_PATTERN}: this module cannot load in a worker`));
    const later = pool.submit(tasks.inc, 1);
    const laterErr = await later.exception();
    assert.ok(laterErr instanceof BrokenExecutorError);
    assert.match((laterErr as Error).message, /could not load, so the pool is broken/);
    await pool.shutdown();
    assert.equal(pool.stats().workers, 0);
  });
});
