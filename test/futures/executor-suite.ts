/**
 * One behaviour suite for every Executor, as CPython runs test_concurrent_futures
 * against each executor kind. A backend says how to make its executor and gives two
 * helpers whose mechanics differ per level: a task that never ends unless stopped,
 * and a task that blocks until the test releases it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  asCompleted,
  CancelledError,
  FIRST_COMPLETED,
  Future,
  TimeoutError,
  wait,
  type Executor,
  type TaskFunction,
} from '../../src/index.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { files, PaymentError, tasks } from '../fixtures/tasks.js';

/** A task the test holds until it calls `release`. */
export interface Blocker {
  fn: TaskFunction<any[], unknown>;
  args: unknown[];
  /** Resolves once the task has started. */
  started: Promise<void>;
  release(): void;
}

/** How the suite makes and drives one kind of executor. */
export interface Backend {
  name: string;
  make(workers: number): Executor;
  /** A task that never finishes on its own. */
  hang: TaskFunction<[], unknown>;
  blocker(): Blocker | Promise<Blocker>;
  /** Constructing with `workers: 0` (or its equivalent) must throw a RangeError naming the option. */
  badOptions: Array<[() => unknown, RegExp]>;
}

/** A file tasks can append marks to from any thread or process, and what it holds. */
function markFile(): { path: string; marks(): number[] } {
  const path = join(mkdtempSync(join(tmpdir(), 'concur-suite-')), 'marks');
  return {
    path,
    marks: () => {
      try {
        return readFileSync(path, 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    },
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function executorSuite(backend: Backend): void {
  const { make } = backend;

  describe(`${backend.name}: the Executor contract`, () => {
    it('submit returns a Future of the result', async () => {
      await using ex = make(2);
      const f = ex.submit(tasks.add, 2, 3);
      assert.ok(f instanceof Future);
      assert.equal(await f, 5);
      assert.equal(await f.result(), 5);
      assert.equal(f.state, 'FINISHED');
      const value = { deep: [1, 2], when: new Date(0), map: new Map([['k', 1]]) };
      assert.deepEqual(await ex.submit(tasks.sleepy, 1, value), value);
    });

    it("a task's error keeps its class name, message, own properties and stack", async () => {
      await using ex = make(1);
      const err = (await ex.submit(tasks.pay, 42).exception()) as PaymentError;
      assert.equal(err.name, 'PaymentError');
      assert.equal(err.message, 'card declined for 42');
      assert.equal(err.code, 'DECLINED');
      assert.equal(err.amount, 42);
      assert.match(err.stack ?? '', /pay/);
      const range = await ex.submit(tasks.failIf, 1, 1).exception();
      assert.ok(range instanceof RangeError, 'built-in error classes come back as themselves');
      await assert.rejects(ex.submit(tasks.throwString).result(), (e) => e === 'plain string');
    });

    it('map yields results in input order, with and without chunks', async () => {
      await using ex = make(2);
      const input = Array.from({ length: 50 }, (_, i) => i);
      assert.deepEqual(await collect(ex.map(tasks.inc, input)), input.map((x) => x + 1));
      assert.deepEqual(await collect(ex.map(tasks.inc, input, { chunksize: 7 })), input.map((x) => x + 1));
      assert.deepEqual(await collect(ex.map(tasks.inc, [])), []);
    });

    it('map with ordered: false yields every result, in completion order', async () => {
      await using ex = make(2);
      const out = await collect(ex.map(tasks.inc, [1, 2, 3, 4, 5, 6], { ordered: false, chunksize: 2 }));
      assert.deepEqual(out.sort((a, b) => a - b), [2, 3, 4, 5, 6, 7]);
    });

    it('map takes async iterables and a bounded buffer', async () => {
      await using ex = make(2);
      async function* gen(): AsyncGenerator<number> {
        for (let i = 0; i < 20; i++) yield i;
      }
      assert.deepEqual(await collect(ex.map(tasks.inc, gen(), { buffersize: 3 })), Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('starmap spreads argument arrays', async () => {
      await using ex = make(2);
      const out = await collect(ex.starmap(tasks.add, [[1, 2], [3, 4], [5, 6]] as [number, number][], { chunksize: 2 }));
      assert.deepEqual(out, [3, 7, 11]);
    });

    it('map raises the error at its position, after the results before it', async () => {
      await using ex = make(2);
      const seen: number[] = [];
      await assert.rejects(
        (async () => {
          for await (const r of ex.starmap(tasks.failIf, [0, 1, 2, 3, 4].map((x) => [x, 3] as [number, number]))) seen.push(r);
        })(),
        (e) => e instanceof RangeError && e.message === 'bad item 3',
      );
      assert.deepEqual(seen, [0, 10, 20]);
    });

    it('map with a timeout raises TimeoutError and cancels what has not started', async () => {
      await using ex = make(1);
      const b = await backend.blocker();
      const blocked = ex.submit(b.fn, ...b.args);
      await b.started;
      const ran = markFile();
      const items = [0, 1, 2].map((i) => [ran.path, i] as [string, number]);
      await assert.rejects(collect(ex.starmap(files.mark, items, { timeout: 30 })), (e) => e instanceof TimeoutError && /map: 3/.test(e.message));
      b.release();
      await blocked;
      assert.equal(await ex.submit(tasks.inc, 1), 2);
      assert.deepEqual(ran.marks(), [], 'the items that had not started were cancelled');
    });

    it('map with an aborted signal throws its reason', async () => {
      await using ex = make(1);
      const ac = new AbortController();
      const b = await backend.blocker();
      const it = ex.map(b.fn as TaskFunction<[unknown], unknown>, [b.args[0], b.args[0], b.args[0]], { signal: ac.signal });
      await b.started;
      ac.abort(new Error('user gave up'));
      await assert.rejects(collect(it), /user gave up/);
      b.release();
    });

    it('map refuses chunksize < 1 and a bad timeout', async () => {
      await using ex = make(1);
      assert.throws(() => ex.map(tasks.inc, [1], { chunksize: -1 }), RangeError);
      assert.throws(() => ex.map(tasks.inc, [1], { chunksize: 0 }), /chunksize must be an integer >= 1, got 0/);
      assert.throws(() => ex.map(tasks.inc, [1], { timeout: -5 }), RangeError);
    });

    it("map refuses a second iterable (Python's map(fn, xs, ys)) and unknown options, naming them", async () => {
      // An array in the options' place was read as options with none set: map(pow, [2, 3], [5, 6])
      // yielded [NaN, NaN], and { chunkSize: 2 } was silently ignored.
      await using ex = make(1);
      const untyped = ex.map as (...args: unknown[]) => unknown;
      assert.throws(() => untyped.call(ex, tasks.inc, [1, 2], [5, 6]), (e) => e instanceof TypeError && /one iterable/.test(e.message) && /starmap/.test(e.message));
      assert.throws(() => untyped.call(ex, tasks.inc, [1, 2], { chunkSize: 2 }), (e) => e instanceof TypeError && /unknown option "chunkSize"/.test(e.message));
      assert.throws(() => (ex.starmap as (...args: unknown[]) => unknown).call(ex, tasks.inc, [[1]], 3), (e) => e instanceof TypeError && /options/.test(e.message));
      assert.deepEqual(await collect(ex.map(tasks.inc, [1, 2], { chunksize: undefined, ordered: true })), [2, 3]);
    });

    it('submit after shutdown throws at once', async () => {
      const ex = make(1);
      await ex.shutdown();
      assert.throws(() => ex.submit(tasks.inc, 1), /after shutdown/);
      assert.throws(() => ex.map(tasks.inc, [1]), /after shutdown/);
      await ex.shutdown(); // a second shutdown is harmless
    });

    it('shutdown waits for submitted work', async () => {
      const ex = make(2);
      const fs = [1, 2, 3, 4].map((x) => ex.submit(tasks.sleepy, 5, x));
      await ex.shutdown({ wait: true });
      assert.ok(fs.every((f) => f.done()));
      assert.deepEqual(await Promise.all(fs), [1, 2, 3, 4]);
    });

    it('shutdown({ cancelFutures }) cancels what has not started and lets the running task finish', async () => {
      const ex = make(1);
      const b = await backend.blocker();
      const running = ex.submit(b.fn, ...b.args);
      await b.started;
      const ran = markFile();
      const queued = [0, 1, 2, 3, 4].map((i) => ex.submit(files.mark, ran.path, i));
      const closed = ex.shutdown({ wait: true, cancelFutures: true });
      assert.ok(queued.every((f) => f.cancelled()));
      b.release();
      await closed;
      assert.equal(running.state, 'FINISHED');
      assert.deepEqual(ran.marks(), []);
      await assert.rejects(queued[0]!.result(), CancelledError);
    });

    it('a cancelled pending Future never runs', async () => {
      await using ex = make(1);
      const b = await backend.blocker();
      const first = ex.submit(b.fn, ...b.args);
      await b.started;
      const ran = markFile();
      const f = ex.submit(files.mark, ran.path, 0);
      assert.equal(f.cancel(), true);
      assert.equal(first.cancel(), false, 'a running task cannot be cancelled');
      b.release();
      await first;
      assert.equal(await ex.submit(tasks.inc, 1), 2, 'the executor goes on');
      assert.deepEqual(ran.marks(), []);
      assert.equal(f.state, 'CANCELLED');
    });

    it('wait and asCompleted work on its Futures', async () => {
      await using ex = make(2);
      const b = await backend.blocker();
      const slow = ex.submit(b.fn, ...b.args);
      const quick = ex.submit(tasks.inc, 1);
      const r = await wait([slow, quick], { returnWhen: FIRST_COMPLETED });
      assert.ok(r.done.has(quick));
      assert.ok(r.notDone.has(slow));
      b.release();
      const order: Future<unknown>[] = [];
      // TypeScript types a `for await` item as its awaited value; at run time it is the Future.
      for await (const f of asCompleted<Future<unknown>>([slow, quick])) order.push(f as unknown as Future<unknown>);
      assert.equal(order[0], quick);
      assert.equal(order.length, 2);
    });

    it('retries a failing task', async () => {
      await using ex = make(1);
      assert.equal(await ex.submitWith({ retries: 2 }, files.flaky, markFile().path, 2), 3);
      await assert.rejects(ex.submitWith({ retries: 1 }, files.flaky, markFile().path, 5).result(), /attempt 2 fails/);
    });

    it('retries a failing task that also has a signal and a timeout', async () => {
      await using ex = make(1);
      const { signal } = new AbortController();
      assert.equal(await ex.submitWith({ retries: 2, signal, timeout: 60_000 }, files.flaky, markFile().path, 2), 3);
    });

    it('a per-task timeout stops a task that is already running, and the executor goes on', async () => {
      await using ex = make(1);
      const f = ex.submitWith({ timeout: 50 }, backend.hang);
      await assert.rejects(f.result(), (e) => e instanceof TimeoutError && /timed out after 50 ms/.test(e.message));
      assert.equal(await ex.submit(tasks.add, 1, 1), 2);
    });

    it('an aborted signal fails a queued task without running it, and stops a running one', async () => {
      await using ex = make(1);
      const pre = new AbortController();
      pre.abort(new Error('before'));
      await assert.rejects(ex.submitWith({ signal: pre.signal }, tasks.inc, 1).result(), /before/);

      const running = new AbortController();
      const f = ex.submitWith({ signal: running.signal }, backend.hang);
      const queuedAc = new AbortController();
      const ran = markFile();
      const queued = ex.submitWith({ signal: queuedAc.signal }, files.mark, ran.path, 0);
      queuedAc.abort(new Error('queued abort'));
      await assert.rejects(queued.result(), /queued abort/);
      running.abort(new Error('stop it'));
      await assert.rejects(f.result(), /stop it/);
      assert.equal(await ex.submit(tasks.inc, 2), 3);
      assert.deepEqual(ran.marks(), []);
    });

    it('refuses bad per-task options', async () => {
      await using ex = make(1);
      assert.throws(() => ex.submitWith({ timeout: -1 }, tasks.inc, 1), RangeError);
      assert.throws(() => ex.submitWith({ retries: 1.5 }, tasks.inc, 1), TypeError);
      assert.throws(() => ex.submitWith({ signal: {} as AbortSignal }, tasks.inc, 1), TypeError);
    });

    it('refuses bad options at construction, naming the option and the value', () => {
      for (const [build, message] of backend.badOptions) assert.throws(build, message);
    });

    it('hands back a result returned through transfer()', async () => {
      await using ex = make(1);
      const buf = await ex.submit(tasks.makeBuffer, 16);
      assert.ok(buf instanceof ArrayBuffer);
      assert.equal(new Uint8Array(buf)[0], 7);
    });

    it('runs self-contained inline functions', async () => {
      await using ex = make(1);
      assert.equal(await ex.submit((a: number, b: number) => a * b, 6, 7), 42);
      assert.equal(await ex.submit(async (s: string) => s.toUpperCase(), 'x'), 'X');
    });
  });
}
