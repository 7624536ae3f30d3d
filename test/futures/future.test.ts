import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledError, Future, InvalidStateError, TimeoutError } from '../../src/index.js';

function finished<T>(value: T): Future<T> {
  const f = new Future<T>();
  f.setRunningOrNotifyCancel();
  f.setResult(value);
  return f;
}

describe('Future', () => {
  it('moves PENDING → RUNNING → FINISHED', () => {
    const f = new Future<number>();
    assert.equal(f.state, 'PENDING');
    assert.equal(f.running(), false);
    assert.equal(f.setRunningOrNotifyCancel(), true);
    assert.equal(f.state, 'RUNNING');
    assert.equal(f.running(), true);
    assert.equal(f.done(), false);
    f.setResult(5);
    assert.equal(f.state, 'FINISHED');
    assert.equal(f.done(), true);
  });

  it('cancel() is true while pending, false once running or finished', () => {
    const pending = new Future();
    assert.equal(pending.cancel(), true);
    assert.equal(pending.cancel(), true, 'cancelling twice stays true');
    assert.equal(pending.cancelled(), true);
    assert.equal(pending.state, 'CANCELLED');
    const running = new Future();
    running.setRunningOrNotifyCancel();
    assert.equal(running.cancel(), false);
    assert.equal(running.cancelled(), false);
    assert.equal(finished(1).cancel(), false);
  });

  it('setRunningOrNotifyCancel returns false for a cancelled future and throws from other states', () => {
    const f = new Future();
    f.cancel();
    assert.equal(f.setRunningOrNotifyCancel(), false);
    assert.equal(f.state, 'CANCELLED');
    assert.throws(() => finished(1).setRunningOrNotifyCancel(), InvalidStateError);
    const running = new Future();
    running.setRunningOrNotifyCancel();
    assert.throws(() => running.setRunningOrNotifyCancel(), InvalidStateError);
  });

  it('a second setResult or setException throws InvalidStateError', () => {
    const f = finished(1);
    assert.throws(() => f.setResult(2), InvalidStateError);
    assert.throws(() => f.setException(new Error('x')), InvalidStateError);
    const c = new Future();
    c.cancel();
    assert.throws(() => c.setResult(1), InvalidStateError);
  });

  it('result() gives the value, the error, or CancelledError', async () => {
    assert.equal(await finished(7).result(), 7);
    const failed = new Future();
    const boom = new Error('boom');
    failed.setException(boom);
    await assert.rejects(failed.result(), (e) => e === boom);
    assert.equal(await failed.exception(), boom);
    assert.equal(await finished(1).exception(), undefined);
    const c = new Future();
    c.cancel();
    await assert.rejects(c.result(), CancelledError);
    await assert.rejects(c.exception(), CancelledError);
  });

  it('resultSync() and exceptionSync() read a done Future at once, and throw InvalidStateError before', () => {
    const ok = finished(42);
    assert.equal(ok.resultSync(), 42);
    assert.equal(ok.exceptionSync(), undefined);

    const failed = new Future<number>();
    failed.setRunningOrNotifyCancel();
    const boom = new RangeError('boom');
    failed.setException(boom);
    assert.throws(() => failed.resultSync(), (e) => e === boom); // the task's own error, as itself
    assert.equal(failed.exceptionSync(), boom);

    const cancelled = new Future();
    cancelled.cancel();
    assert.throws(() => cancelled.resultSync(), CancelledError);
    assert.throws(() => cancelled.exceptionSync(), CancelledError);

    const pending = new Future();
    assert.throws(() => pending.resultSync(), (e) => e instanceof InvalidStateError && /not done \(PENDING\)/.test(e.message));
    pending.setRunningOrNotifyCancel();
    assert.throws(() => pending.exceptionSync(), /not done \(RUNNING\)/);

    // Python's add_done_callback(lambda f: f.result()): the callback reads the result without awaiting.
    const seen: number[] = [];
    const f = new Future<number>();
    f.addDoneCallback((done) => void seen.push(done.resultSync() * 2));
    f.setRunningOrNotifyCancel();
    f.setResult(21);
    assert.deepEqual(seen, [42]);
  });

  it('result(timeout) rejects with TimeoutError when not done in time, and resolves when done in time', async () => {
    const f = new Future<number>();
    await assert.rejects(f.result(0), TimeoutError);
    await assert.rejects(f.exception(1), TimeoutError);
    const p = f.result(10_000);
    f.setResult(3);
    assert.equal(await p, 3);
    assert.throws(() => f.result(-1), RangeError);
  });

  it('is awaitable, and a failed Future nobody awaits causes no unhandled rejection', async () => {
    const f = new Future<string>();
    setImmediate(() => f.setResult('later'));
    assert.equal(await f, 'later');
    const ignored = new Future();
    ignored.setException(new Error('nobody looks'));
    const failed = new Future();
    failed.setException(new TypeError('t'));
    await assert.rejects(async () => await failed, TypeError);
  });

  it('runs done callbacks once, in order, at once when already done, on cancel too', () => {
    const calls: string[] = [];
    const f = new Future<number>();
    f.addDoneCallback(() => calls.push('a'));
    f.addDoneCallback((g) => calls.push(`b:${g === f}`));
    assert.equal(calls.length, 0);
    f.setRunningOrNotifyCancel();
    f.setResult(1);
    assert.deepEqual(calls, ['a', 'b:true']);
    f.addDoneCallback(() => calls.push('late'));
    assert.deepEqual(calls, ['a', 'b:true', 'late']);
    const c = new Future();
    let cancelledSeen = false;
    c.addDoneCallback((g) => (cancelledSeen = g.cancelled()));
    c.cancel();
    assert.equal(cancelledSeen, true);
  });

  it('a throwing callback never stops the others', (t) => {
    const errors: unknown[] = [];
    t.mock.method(console, 'error', (...args: unknown[]) => errors.push(args));
    const f = new Future();
    const seen: number[] = [];
    f.addDoneCallback(() => seen.push(1));
    f.addDoneCallback(() => {
      throw new Error('bad callback');
    });
    f.addDoneCallback(() => seen.push(3));
    f.setRunningOrNotifyCancel();
    f.setResult(undefined);
    assert.deepEqual(seen, [1, 3]);
    assert.equal(errors.length, 1);
  });
});
