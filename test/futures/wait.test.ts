import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALL_COMPLETED, asCompleted, FIRST_COMPLETED, FIRST_EXCEPTION, Future, TimeoutError, wait } from '../../src/index.js';

const pending = <T = unknown>(): Future<T> => new Future<T>();
function done<T>(value: T): Future<T> {
  const f = new Future<T>();
  f.setRunningOrNotifyCancel();
  f.setResult(value);
  return f;
}
function failed(error: unknown): Future<never> {
  const f = new Future<never>();
  f.setException(error);
  return f;
}
function cancelled(): Future<never> {
  const f = new Future<never>();
  f.cancel();
  return f;
}

describe('wait', () => {
  it('ALL_COMPLETED waits for every future', async () => {
    const a = done(1);
    const b = pending<number>();
    const w = wait([a, b]);
    setImmediate(() => b.setResult(2));
    const { done: d, notDone } = await w;
    assert.deepEqual([...d].sort(), [a, b].sort());
    assert.equal(notDone.size, 0);
  });

  it('FIRST_COMPLETED returns at the first one, cancellation counts', async () => {
    const a = pending();
    const b = pending();
    const w = wait([a, b], { returnWhen: FIRST_COMPLETED });
    setImmediate(() => b.cancel());
    const r = await w;
    assert.deepEqual([...r.done], [b]);
    assert.deepEqual([...r.notDone], [a]);
  });

  it('FIRST_EXCEPTION returns at the first error, not at a success or a cancel', async () => {
    const ok = done(1);
    const c = cancelled();
    const bad = pending();
    const other = pending();
    const w = wait([ok, c, bad, other], { returnWhen: FIRST_EXCEPTION });
    setImmediate(() => bad.setException(new Error('x')));
    const r = await w;
    assert.ok(r.done.has(bad) && r.done.has(ok) && r.done.has(c));
    assert.deepEqual([...r.notDone], [other]);
  });

  it('FIRST_EXCEPTION with no errors acts as ALL_COMPLETED', async () => {
    const a = pending<number>();
    const w = wait([done(1), a], { returnWhen: FIRST_EXCEPTION });
    setImmediate(() => a.setResult(2));
    assert.equal((await w).notDone.size, 0);
  });

  it('returns the partial sets on timeout, without throwing', async () => {
    const a = done(1);
    const b = pending();
    const r = await wait([a, b], { timeout: 5 });
    assert.deepEqual([...r.done], [a]);
    assert.deepEqual([...r.notDone], [b]);
    const zero = await wait([b], { timeout: 0 });
    assert.deepEqual([...zero.notDone], [b]);
  });

  it('takes duplicates once and returns at once when already satisfied', async () => {
    const a = done(1);
    const r = await wait([a, a, a]);
    assert.equal(r.done.size, 1);
    const f = failed(new Error('e'));
    const r2 = await wait([f, pending()], { returnWhen: FIRST_EXCEPTION });
    assert.ok(r2.done.has(f));
  });

  it('refuses bad arguments', () => {
    assert.throws(() => wait([pending()], { timeout: -1 }), RangeError);
    assert.throws(() => wait([pending()], { returnWhen: 'SOMETIMES' as typeof ALL_COMPLETED }), RangeError);
    assert.throws(() => wait([Promise.resolve(1) as unknown as Future]), TypeError);
  });
});

describe('asCompleted', () => {
  it('yields finished futures first, then in completion order, as the Future objects', async () => {
    const a = pending<string>();
    const b = done('b');
    const c = pending<string>();
    const seen: Future<string>[] = [];
    const it = asCompleted([a, b, c]);
    setImmediate(() => {
      c.setResult('c');
      setImmediate(() => a.setResult('a'));
    });
    for await (const f of it) {
      // TypeScript types a `for await` item as its awaited value; at run time it is the Future.
      const future = f as unknown;
      assert.ok(future instanceof Future, 'yields the Future itself, not its result');
      seen.push(future as Future<string>);
    }
    assert.deepEqual(seen, [b, c, a]);
  });

  it('takes duplicates once', async () => {
    const a = done(1);
    const seen = [];
    for await (const f of asCompleted([a, a])) seen.push(f);
    assert.equal(seen.length, 1);
  });

  it('throws TimeoutError naming how many are unfinished', async () => {
    const seen: Future[] = [];
    const d = done(1);
    await assert.rejects(
      (async () => {
        for await (const f of asCompleted([d, pending(), pending()], { timeout: 5 })) seen.push(f as unknown as Future);
      })(),
      (e) => e instanceof TimeoutError && /2 \(of 3\) futures unfinished/.test(e.message),
    );
    assert.deepEqual(seen, [d]);
  });

  it('yields failed and cancelled futures too', async () => {
    const f = failed(new Error('x'));
    const c = cancelled();
    const seen = new Set<Future>();
    for await (const x of asCompleted([f, c])) seen.add(x as unknown as Future);
    assert.deepEqual(seen, new Set([f, c]));
  });
});
