/**
 * One suite for multiprocessing.Pool's face, run against Pool (processes) and ThreadPool
 * (threads), after the Pool cases of CPython's _test_multiprocessing.py: apply, map
 * ordering and chunking, map_async callbacks and error callbacks, imap and
 * imap_unordered, close/join/terminate rules, AsyncResult timeouts, and the context
 * manager's terminate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { AsyncResult, CancelledError, Event, TimeoutError, type Pool, type PoolFaceOptions } from '../../src/index.js';
import { KeyError, poolTasks as t } from '../fixtures/pool-tasks.js';

type AnyPool = Pool;

/** How the suite makes one kind of pool. */
export interface PoolKind {
  name: string;
  make(processes?: number | PoolFaceOptions): AnyPool;
}

const squares = (n: number): number[] => Array.from({ length: n }, (_, i) => i * i);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function poolSuite(kind: PoolKind): void {
  // Concurrent: most of the time is workers starting, and the cases that make pools of their own overlap.
  describe(`${kind.name} (multiprocessing.Pool's face)`, { concurrency: true }, () => {
    let pool: AnyPool; // one pool of 4 for the cases that do not end it, as CPython's suite shares one
    before(() => {
      pool = kind.make(4);
    });
    after(async () => {
      pool.close();
      await pool.join();
    });

    it('apply runs the call in a worker and resolves to its result (test_apply)', async () => {
      assert.equal(await pool.apply(t.sqr, [5]), 25);
      assert.equal(await pool.apply(t.mul, [6, 7]), 42);
    });

    it('map keeps input order, with and without a chunksize (test_map)', async () => {
      assert.deepEqual(await pool.map(t.sqr, Array.from({ length: 10 }, (_, i) => i)), squares(10));
      assert.deepEqual(await pool.map(t.sqr, Array.from({ length: 100 }, (_, i) => i), 20), squares(100));
      // Later items finish first: the order is still the input's.
      assert.deepEqual(await pool.map(t.sqr, [3, 2, 1, 0].map((i) => i), 1), [9, 4, 1, 0]);
      const gen = function* (): Generator<number> {
        for (let i = 0; i < 5; i++) yield i;
      };
      assert.deepEqual(await pool.map(t.sqr, gen()), squares(5)); // any iterable, taken whole at the call
    });

    it('starmap and starmapAsync spread each argument array (test_starmap)', async () => {
      const pairs: Array<[number, number]> = Array.from({ length: 10 }, (_, i) => [i, 9 - i]);
      const expected = pairs.map(([a, b]) => a * b);
      assert.deepEqual(await pool.starmap(t.mul, pairs), expected);
      assert.deepEqual(await pool.starmap(t.mul, pairs, 3), expected);
      assert.deepEqual(await pool.starmapAsync(t.mul, pairs, { chunksize: 4 }).get(), expected);
    });

    it('map, starmap and imap name an input that cannot be sent by its place in the input', async () => {
      const fn = (() => 1) as unknown as number;
      const items = [1, 2, 3, 4, fn, 6];
      for (const chunksize of [1, 4]) {
        await assert.rejects(pool.map(t.mul2, items, chunksize), (err: Error) => {
          assert.ok(err instanceof TypeError);
          assert.match(err.message, /^input 4 of the map \(function fn\) cannot be sent to a worker (thread|process) for task mul2 /, `chunksize ${chunksize}`);
          return true;
        });
        await assert.rejects(pool.starmap(t.mul, [[1, 2], [fn, 3]], chunksize), /^TypeError: input 1 of the map, argument 0 \(function fn\), cannot be sent/);
        await assert.rejects(collect(pool.imap(t.mul2, items, chunksize)), /^TypeError: input 4 of the map \(function fn\) cannot be sent/);
      }
    });

    it('an empty iterable gives empty results everywhere (test_empty_iterable, test_map_chunksize)', async () => {
      assert.deepEqual(await pool.map(t.sqr, []), []);
      assert.deepEqual(await pool.mapAsync(t.sqr, [], { chunksize: 1 }).get(60_000), []);
      assert.deepEqual(await collect(pool.imap(t.sqr, [])), []);
      assert.deepEqual(await collect(pool.imapUnordered(t.sqr, [])), []);
    });

    it('mapAsync and starmapAsync of nothing are ready with [] at once and call neither callback, as CPython\'s MapResult of an empty list', async () => {
      const calls: unknown[] = [];
      const push = (x: unknown): void => void calls.push(x);
      const empty = pool.mapAsync(t.sqr, [], { callback: push, errorCallback: push });
      assert.equal(empty.ready(), true);
      assert.deepEqual(await empty.get(), []);
      const emptyStar = pool.starmapAsync(t.mul, [], { callback: push, errorCallback: push });
      assert.equal(emptyStar.ready(), true);
      assert.deepEqual(await emptyStar.get(), []);
      // A callback of a later result runs after those queued before it: none was.
      await pool.applyAsync(t.sqr, [2], { callback: push }).wait();
      assert.deepEqual(calls, [4]);
    });

    it('mapAsync calls back with the whole list, or the error callback with the error (test_map_async_callbacks)', async () => {
      const calls: unknown[] = [];
      const push = (x: unknown): void => void calls.push(x);
      await pool.mapAsync(t.toInt, ['1'], { callback: push, errorCallback: push }).wait();
      assert.deepEqual(calls, [[1]]);
      const bad = pool.mapAsync(t.toInt, ['a'], { callback: push, errorCallback: push });
      await bad.wait();
      assert.equal(calls.length, 2);
      assert.ok(calls[1] instanceof RangeError, String(calls[1]));
      assert.equal(bad.successful(), false);
      await assert.rejects(bad.get(), RangeError);
    });

    it('a failing map rejects with the task error and the pool keeps serving (test_map_no_failfast)', async () => {
      await assert.rejects(pool.map(t.toInt, ['1', 'x', '3']), /invalid literal for int\(\): 'x'/);
      assert.deepEqual(await pool.map(t.sqr, [1, 2]), [1, 4]);
    });

    it('a map with several failures rejects with the first in input order, even when a later one fails first', async () => {
      // Chunk 0 fails after 300 ms, chunk 1 at once: map's error is still chunk 0's.
      await assert.rejects(pool.starmap(t.failAfter, [[300, 'first'], [0, 'second']], 1), /first/);
      await assert.rejects(pool.starmapAsync(t.failAfter, [[300, 'first'], [0, 'second'], [0, 'third']], { chunksize: 2 }).get(), /first/);
      // A large map of numbers comes back as one plain array, in order, whatever its chunks.
      const xs = Array.from({ length: 10_000 }, (_, i) => i);
      const ys = await pool.map(t.mul2, xs, 999);
      assert.ok(Array.isArray(ys));
      assert.deepEqual(ys, xs.map((x) => 2 * x));
      assert.throws(() => pool.starmap(t.mul, [[1, 2], 3 as never]), /starmap expects argument arrays, got 3 \(number\)/);
    });

    it('an iterable that throws throws from map, imap and mapAsync at the call (test_map_handle_iterable_exception)', () => {
      const boom = function* (): Generator<number> {
        yield 1;
        throw new Error('SayWhenError');
      };
      assert.throws(() => pool.map(t.sqr, boom()), /SayWhenError/);
      assert.throws(() => pool.imap(t.sqr, boom()), /SayWhenError/);
      assert.throws(() => pool.mapAsync(t.sqr, boom()), /SayWhenError/);
    });

    it('applyAsync binds its arguments at the call: reusing the array afterwards changes nothing', async () => {
      const one: [number] = [3];
      const two: [number, number] = [3, 4];
      const none: number[] = [];
      const results = [pool.applyAsync(t.sqr, one), pool.applyAsync(t.mul, two), pool.applyAsync(t.sqr, none as never)];
      one[0] = 100; // before the batch leaves (it goes a microtask later)
      two[0] = 100;
      none.push(5);
      assert.equal(await results[0]!.get(60_000), 9);
      assert.equal(await results[1]!.get(60_000), 12);
      assert.ok(Number.isNaN(await results[2]!.get(60_000))); // sqr() of nothing, as called
    });

    it('applyAsync: get waits for the result, get(timeout) raises TimeoutError (test_async, test_async_timeout)', async () => {
      const r = pool.applyAsync(t.sqr, [7, 50]);
      assert.ok(r instanceof AsyncResult);
      assert.equal(await r.get(), 49);
      assert.equal(await r, 49); // awaitable

      const started = new Event();
      const release = new Event();
      const held = pool.applyAsync(t.hold, [started, release]);
      await started.wait();
      const t0 = performance.now();
      await assert.rejects(held.get(100), TimeoutError);
      assert.ok(performance.now() - t0 >= 90, 'get(100) returned early');
      await held.wait(50); // wait(timeout) returns without an error
      assert.equal(held.ready(), false);
      assert.throws(() => held.successful(), RangeError); // not ready yet: Python's ValueError
      release.set();
      assert.equal(await held.get(60_000), 'released');
      assert.equal(held.ready(), true);
      assert.equal(held.successful(), true);
    });

    it('a failing call reaches errorCallback with its own error class, and get rethrows it (test_async_error_callback)', async () => {
      let seen: unknown;
      const r = pool.applyAsync(t.raising, [], { errorCallback: (e) => (seen = e), callback: () => assert.fail('callback on failure') });
      await assert.rejects(r.get(), (e: unknown) => e instanceof Error && e.name === 'KeyError');
      assert.ok(seen instanceof Error && seen.name === 'KeyError', String(seen));
      assert.equal(r.successful(), false);
      void KeyError;
      // A result that cannot come back fails the call, not the pool (test_unpickleable_result).
      let err: unknown;
      await pool.applyAsync(t.returnFunction, [], { errorCallback: (e) => (err = e) }).wait();
      assert.ok(err instanceof Error, String(err));
      assert.equal(await pool.apply(t.sqr, [3]), 9);
    });

    it('callbacks run in the calling thread, one at a time, before their result is ready', async () => {
      const log: string[] = [];
      const results: AsyncResult<number>[] = [];
      for (let i = 0; i < 6; i++) {
        const r: AsyncResult<number> = pool.applyAsync(t.sqr, [i], {
          callback: async (v) => {
            assert.equal(threadId, 0);
            assert.equal(r.ready(), false, 'ready before its callback ran');
            log.push(`enter ${v}`);
            await new Promise((res) => setTimeout(res, 5)); // an async callback still holds the others back
            log.push(`leave ${v}`);
          },
        });
        results.push(r);
      }
      const values = await Promise.all(results.map((r) => r.get()));
      assert.deepEqual(values, squares(6));
      assert.equal(log.length, 12);
      for (let i = 0; i < log.length; i += 2) {
        assert.match(log[i]!, /^enter /);
        assert.equal(log[i + 1], log[i]!.replace('enter', 'leave'), `callbacks overlapped: ${log.join(', ')}`);
      }
    });

    it('a throwing callback is reported and the result is still set', async () => {
      const errors: unknown[] = [];
      const original = console.error;
      console.error = (...a: unknown[]) => void errors.push(a.join(' '));
      try {
        const r = pool.applyAsync(t.sqr, [4], {
          callback: () => {
            throw new Error('callback exploded');
          },
        });
        assert.equal(await r.get(), 16);
      } finally {
        console.error = original;
      }
      assert.match(errors.map(String).join('\n'), /exception in a Pool callback[\s\S]*callback exploded/);
    });

    it('imap yields in order, imapUnordered as they finish (test_imap, test_imap_unordered)', async () => {
      assert.deepEqual(await collect(pool.imap(t.sqr, Array.from({ length: 10 }, (_, i) => i))), squares(10));
      assert.deepEqual(await collect(pool.imap(t.sqr, Array.from({ length: 1000 }, (_, i) => i), 100)), squares(1000));
      const unordered = await collect(pool.imapUnordered(t.sqr, Array.from({ length: 10 }, (_, i) => i)));
      assert.deepEqual([...unordered].sort((a, b) => a - b), squares(10));
      // The first item is the slow one: imap still gives it first.
      const slowFirst = [200, 0, 0, 0];
      assert.deepEqual(await collect(pool.imap(t.busy, slowFirst)), slowFirst);
    });

    it('next(timeout) of imap and imapUnordered raises TimeoutError while the next result is not ready; the result comes to a later call (IMapIterator.next(timeout))', async () => {
      const cases = [
        { name: 'imap', make: (e: Event) => pool.imap(t.gate, [e, e]), more: true },
        { name: 'imapUnordered', make: (e: Event) => pool.imapUnordered(t.gate, [e]), more: false },
      ];
      for (const { name, make, more } of cases) {
        const release = new Event();
        const it = make(release);
        await assert.rejects(it.next(20), (err: Error) => err instanceof TimeoutError && /20 ms/.test(err.message), name);
        release.set();
        assert.deepEqual(await it.next(60_000), { value: 'released', done: false }, name);
        assert.equal((await it.next()).done, !more, name);
      }
      // A result already there is given at once, whatever the timeout.
      const quick = pool.imap(t.sqr, [3]);
      assert.deepEqual(await quick.next(60_000), { value: 9, done: false });
      assert.deepEqual(await quick.next(0), { value: undefined, done: true });
      await assert.rejects(quick.next(-1), /timeout must be/);
    });

    it('a failed item of imap or imapUnordered is thrown by its next() and the next call goes on to the items after it, as IMapIterator.next; a failed chunk ends the iteration, as Python\'s chunked imap', async () => {
      const it = pool.imap(t.toInt, ['1', 'x', '3']);
      assert.deepEqual(await it.next(), { value: 1, done: false });
      await assert.rejects(it.next(), /invalid literal for int\(\): 'x'/);
      assert.deepEqual(await it.next(), { value: 3, done: false });
      assert.deepEqual(await it.next(), { value: undefined, done: true });
      const un = pool.imapUnordered(t.toInt, ['x', '2', 'y']);
      const values: number[] = [];
      const errors: string[] = [];
      for (;;) {
        try {
          const r = await un.next();
          if (r.done) break;
          values.push(r.value);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      assert.deepEqual(values, [2]);
      assert.deepEqual(errors.sort(), ["invalid literal for int(): 'x'", "invalid literal for int(): 'y'"]);
      const chunked = pool.imap(t.toInt, ['1', 'x', '3', '4'], 2);
      await assert.rejects(chunked.next(), /'x'/);
      assert.deepEqual(await chunked.next(), { value: undefined, done: true });
    });

    it('an imap left early (return(), a break) cancels nothing: every item still runs, as in Python, where the iterator only reads results', async () => {
      const p = kind.make(1);
      const started = new Event();
      const release = new Event();
      const held = p.applyAsync(t.hold, [started, release]); // the one worker is busy: the items below wait
      await started.wait();
      const marks = [new Event(), new Event(), new Event()];
      const left = p.imap(t.mark, marks);
      await left.return!(); // as a break out of for await before any result
      release.set();
      p.close();
      await p.join();
      assert.equal(await held.get(), 'released');
      assert.deepEqual(marks.map((m) => m.isSet()), [true, true, true]);
    });

    it('bad arguments throw at the call, naming what was wrong (test_make_pool, test_pool_maxtasksperchild_invalid)', () => {
      assert.throws(() => kind.make(0), /processes must be an integer >= 1, got 0/);
      assert.throws(() => kind.make(-1), RangeError);
      assert.throws(() => kind.make({ processes: 2, maxtasksperchild: 0 }), /maxtasksperchild must be an integer >= 1/);
      assert.throws(() => kind.make({ workers: 2 } as never), /unknown option "workers"/);
      assert.throws(() => pool.map(t.sqr, [1], 0), /chunksize must be an integer >= 1, got 0/);
      assert.throws(() => pool.applyAsync(t.sqr, 5 as never), /args must be an array/);
      assert.throws(() => pool.applyAsync(t.sqr, [1], { callback: 'log' as never }), /callback must be a function/);
    });

    it('initializer runs in each worker; maxtasksperchild replaces workers (test_pool_worker_lifetime)', async () => {
      const p = kind.make({ processes: 2, initializer: t.setup, initargs: ['ready'], maxtasksperchild: 2 });
      try {
        const where = await Promise.all(Array.from({ length: 5 }, () => p.applyAsync(t.where).get()));
        assert.ok(new Set(where).size > 2, `5 tasks on 2 workers of 2 tasks each ran on only ${new Set(where).size} workers`);
        assert.equal(await p.apply(t.readSetup), 'ready');
      } finally {
        p.close();
        await p.join();
      }
    });

    it('join before close or terminate throws; work after close throws "Pool not running"; close still finishes the work', async () => {
      const p = kind.make(2);
      assert.throws(() => p.join(), /Pool is still running/);
      const calls: number[] = [];
      const pending = Array.from({ length: 6 }, (_, i) => p.applyAsync(t.sqr, [i, 20], { callback: (v) => void calls.push(v) }));
      const it = p.imap(t.sqr, [1, 2, 3]); // submitted at the call: close does not stop it
      p.close();
      assert.throws(() => p.applyAsync(t.sqr, [1]), /Pool not running/);
      assert.throws(() => p.apply(t.sqr, [1]), /Pool not running/);
      assert.throws(() => p.map(t.sqr, [1]), /Pool not running/);
      assert.throws(() => p.mapAsync(t.sqr, [1]), /Pool not running/);
      assert.throws(() => p.starmap(t.mul, [[1, 2]]), /Pool not running/);
      assert.throws(() => p.imap(t.sqr, [1]), /Pool not running/);
      assert.throws(() => p.imapUnordered(t.sqr, [1]), /Pool not running/);
      await p.join();
      // After join every callback has run and every result is ready (Python's result handler has finished).
      assert.deepEqual([...calls].sort((a, b) => a - b), squares(6));
      assert.ok(pending.every((r) => r.ready() && r.successful()));
      assert.deepEqual(await collect(it), [1, 4, 9]);
      p.close(); // again: nothing
      await p.join(); // again: fine
    });

    it('terminate stops the workers mid-task; join returns soon and pending results fail (test_terminate)', async () => {
      const p = kind.make(2);
      const started = new Event();
      const never = new Event();
      let called = false;
      const held = p.applyAsync(t.hold, [started, never], { callback: () => (called = true), errorCallback: () => (called = true) });
      const many = p.mapAsync(t.busy, Array.from({ length: 1000 }, () => 100), { chunksize: 1 });
      await started.wait();
      const t0 = performance.now();
      await p.terminate();
      await p.join();
      assert.ok(performance.now() - t0 < 20_000, 'terminate waited for the tasks (1000 x 100 ms on 2 workers)');
      await assert.rejects(held.get(60_000), CancelledError);
      await assert.rejects(many.get(60_000), CancelledError);
      assert.equal(called, false, 'a callback ran for a terminated task');
      assert.throws(() => p.applyAsync(t.sqr, [1]), /Pool not running/);
      p.close(); // after terminate: nothing
    });

    it('await using terminates on leaving, as Python with (test_context)', async () => {
      let p: AnyPool | undefined;
      {
        await using inner = kind.make(2);
        p = inner;
        const r = inner.mapAsync(t.sqr, [1, 2, 3]);
        assert.deepEqual(await r.get(), [1, 4, 9]);
      }
      await p.join(); // terminated: join returns
      assert.throws(() => p.mapAsync(t.sqr, [1]), /Pool not running/);
    });
  });
}
