// asCompleted's iterator driven as a user may drive it: next() calls issued at once,
// return() while a next() waits, a timeout reached while several wait; and wait() and
// asCompleted() given something that is not an iterable of Futures.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asCompleted, Future, TimeoutError, wait } from '../../src/index.js';

const pending = <T = unknown>(): Future<T> => new Future<T>();

describe('asCompleted: next() calls issued at once', () => {
  it('each gets a distinct Future, none twice, none lost, then done', { timeout: 10_000 }, async () => {
    const fs = [pending<number>(), pending<number>(), pending<number>(), pending<number>()];
    const it = asCompleted(fs);
    const nexts = [...fs, 'end', 'end'].map(() => it.next());
    for (const i of [2, 0, 3, 1]) fs[i]!.setResult(i);
    const got = await Promise.all(nexts);
    assert.deepEqual(got.slice(0, 4).map((r) => r.value), [fs[2], fs[0], fs[3], fs[1]], 'in completion order');
    assert.deepEqual(got.slice(4), [
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
  });

  it('with a timeout, every waiting next() rejects with TimeoutError naming how many are unfinished', { timeout: 10_000 }, async () => {
    const finished = pending<number>();
    // The deadline is far enough that the finished Future's callback, due at once, comes
    // first even on a loaded machine: what is tested is the Futures still waiting at it.
    const it = asCompleted([finished, pending(), pending()], { timeout: 1000 });
    const nexts = [it.next(), it.next(), it.next()];
    finished.setResult(1);
    const got = await Promise.allSettled(nexts);
    assert.deepEqual(got[0], { status: 'fulfilled', value: { value: finished, done: false } });
    for (const r of got.slice(1)) {
      assert.equal(r.status, 'rejected');
      const e = (r as PromiseRejectedResult).reason as unknown;
      assert.ok(e instanceof TimeoutError, String(e));
      assert.match(e.message, /^asCompleted: 2 \(of 3\) futures unfinished after 1000 ms$/);
    }
  });
});

describe('asCompleted: after its TimeoutError', () => {
  it('a later next() is done, as Python\'s as_completed generator is finished once it raised, whether the timeout passed during a wait or before the call', async () => {
    const late = pending<number>();
    const waited = asCompleted([late], { timeout: 1 });
    await assert.rejects(waited.next(), TimeoutError); // the wait ran into the deadline
    late.setResult(1);
    assert.deepEqual(await waited.next(), { value: undefined, done: true });
    const f = pending<number>();
    const it = asCompleted([f], { timeout: 0 });
    await assert.rejects(it.next(), TimeoutError); // the deadline had passed at the call
    f.setResult(2);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });
});

describe('asCompleted: return() while a next() waits', () => {
  it('the waiting next() resolves done, and later next() calls too', { timeout: 10_000 }, async () => {
    const f = pending();
    const it = asCompleted([f, pending()]);
    const waiting = [it.next(), it.next()];
    assert.deepEqual(await it.return!(), { value: undefined, done: true });
    assert.deepEqual(await Promise.all(waiting), [
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
    f.setResult(1);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  it('with a timeout, the waiting next() resolves done at return(), not TimeoutError later', { timeout: 10_000 }, async () => {
    const it = asCompleted([pending()], { timeout: 60_000 });
    const waiting = it.next();
    await it.return!();
    assert.deepEqual(await waiting, { value: undefined, done: true });
  });
});

describe('wait and asCompleted refuse what is not an iterable of Futures', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['a number', 5, /got 5 \(number\)/],
    ['null', null, /got null \(null\)/],
    ['undefined', undefined, /got undefined \(undefined\)/],
    ['a single Future', pending(), /got a single Future; pass \[future\]/],
  ];
  for (const [what, value, shown] of cases) {
    it(`given ${what}, a TypeError naming the function and what it got`, () => {
      assert.throws(
        () => wait(value as Iterable<Future>),
        (e) => e instanceof TypeError && /^wait expects an iterable of Futures, /.test(e.message) && shown.test(e.message),
      );
      assert.throws(
        () => asCompleted(value as Iterable<Future>),
        (e) => e instanceof TypeError && /^asCompleted expects an iterable of Futures, /.test(e.message) && shown.test(e.message),
      );
    });
  }
});

describe('asCompleted over a huge fan-out', () => {
  // Its finished Futures waited in an array read with shift(), which V8 copies once the
  // array outgrows a regular heap object: 150k Futures took about half a minute, each next()
  // moving the rest. A wall-clock bound here would fail on a loaded machine (and pass a
  // quadratic queue on a fast one), so the test counts instead: no shift() of a long array
  // while it iterates, and every Future comes out once.
  it('done Futures, and Futures settling while it iterates, come out once each, with no shift() of a long array', { timeout: 60_000 }, async () => {
    const n = 20_000;
    const done = Array.from({ length: n }, () => pending<number>());
    for (const f of done) f.setResult(1);
    const settling = Array.from({ length: n }, () => pending<number>());
    const shift = Array.prototype.shift;
    let longShifts = 0;
    Array.prototype.shift = function (this: unknown[]) {
      if (this.length > 1000) longShifts++;
      return shift.call(this);
    };
    let count = 0;
    const seen = new Set<Future<number>>();
    try {
      for await (const f of asCompleted(done)) {
        seen.add(f as unknown as Future<number>);
        count += (f as unknown as Future<number>).resultSync();
      }
      const it = asCompleted(settling);
      const first = it.next(); // one waits; the rest pile up as they finish
      for (const f of settling) f.setResult(1);
      const r0 = await first;
      assert.equal(r0.done, false);
      seen.add(r0.value as Future<number>);
      for (let r = await it.next(); !r.done; r = await it.next()) {
        seen.add(r.value as Future<number>);
        count++;
      }
    } finally {
      Array.prototype.shift = shift;
    }
    assert.equal(count, 2 * n - 1);
    assert.equal(seen.size, 2 * n, 'each Future once');
    assert.equal(longShifts, 0, 'a long array was shifted while asCompleted iterated');
  });
});
