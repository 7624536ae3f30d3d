import { TimeoutError } from './errors.js';
import { checkTimeout, describe, Future } from './future.js';
import { Deque } from '../util/deque.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';

/** `wait` returns when any future finishes or is cancelled. */
export const FIRST_COMPLETED = 'FIRST_COMPLETED';
/** `wait` returns when any future finishes with an error, or when all are done. */
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
/** `wait` returns when every future is done. */
export const ALL_COMPLETED = 'ALL_COMPLETED';

/** When `wait` returns. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** The two sets `wait` returns. */
export interface WaitResult<F extends Future<any>> {
  done: Set<F>;
  notDone: Set<F>;
}

function toSet<F extends Future<any>>(fs: Iterable<F>, fn: string): Set<F> {
  // Else `for...of` throws "fs is not iterable", which names neither the call nor the value;
  // a lone Future is the likely slip (Python's wait(f) fails the same way).
  if (fs instanceof Future) throw new TypeError(`${fn} expects an iterable of Futures, got a single Future; pass [future]`);
  if (fs == null || typeof (fs as Partial<Iterable<F>>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${fn} expects an iterable of Futures, got ${describe(fs)}`);
  }
  const set = new Set<F>();
  for (const f of fs) {
    if (!(f instanceof Future)) throw new TypeError(`${fn} expects Futures, got ${Object.prototype.toString.call(f)}`);
    set.add(f);
  }
  return set;
}

/**
 * Waits until the futures reach `returnWhen` or `timeout` ms pass, and returns which are
 * done and which are not. A timeout is not an error: the sets tell what finished.
 */
export function wait<F extends Future<any>>(
  fs: Iterable<F>,
  options: { timeout?: number; returnWhen?: ReturnWhen } = {},
): Promise<WaitResult<F>> {
  const { timeout, returnWhen = ALL_COMPLETED } = options;
  checkTimeout(timeout);
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new RangeError(`returnWhen must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got ${String(returnWhen)}`);
  }
  const notDone = toSet(fs, 'wait');
  const done = new Set<F>();
  let sawException = false;
  const take = (f: F): void => {
    notDone.delete(f);
    done.add(f);
    if (f._failed()) sawException = true;
  };
  for (const f of [...notDone]) if (f.done()) take(f);
  const satisfied = (): boolean =>
    notDone.size === 0 ||
    (returnWhen === FIRST_COMPLETED && done.size > 0) ||
    (returnWhen === FIRST_EXCEPTION && sawException);
  if (satisfied() || timeout === 0) return Promise.resolve({ done, notDone });

  return new Promise((resolve) => {
    let timer: LongTimeout | undefined;
    const watched = [...notDone];
    const finish = (): void => {
      timer?.clear();
      for (const f of watched) f._removeDoneCallback(onDone);
      resolve({ done, notDone });
    };
    const onDone = (f: Future<unknown>): void => {
      take(f as F);
      if (satisfied()) finish();
    };
    for (const f of watched) f.addDoneCallback(onDone);
    if (timeout !== undefined) timer = setLongTimeout(finish, timeout);
  });
}

/**
 * Yields each future as it completes (those already done first). Throws TimeoutError
 * if `timeout` ms pass, counted from the call, before all are done. Yields the Future
 * objects themselves, never their results.
 */
export function asCompleted<F extends Future<any>>(fs: Iterable<F>, options: { timeout?: number } = {}): AsyncIterableIterator<F> {
  const { timeout } = options;
  checkTimeout(timeout);
  const pending = toSet(fs, 'asCompleted');
  const total = pending.size;
  const deadline = timeout === undefined ? undefined : performance.now() + timeout;
  // Deques, not arrays: an array's shift() copies the rest once it is large, which made a
  // fan-out of 100k Futures quadratic (seconds per thousand).
  const ready = new Deque<F>();
  // next() calls waiting for a Future, in call order: each finished Future goes to the
  // first of them, so calls made at once each get their own and none waits forever.
  const waiters = new Deque<{ resolve: (r: IteratorResult<F>) => void; reject: (e: unknown) => void }>();
  let timer: LongTimeout | undefined;
  let closed = false;
  const DONE: IteratorResult<F> = { value: undefined, done: true };
  const endWaiters = (): void => {
    timer?.clear();
    timer = undefined;
    for (const w of waiters.drain()) w.resolve(DONE);
  };
  const onDone = (f: Future<unknown>): void => {
    if (!pending.delete(f as F)) return;
    const w = waiters.shift();
    if (w !== undefined) w.resolve({ value: f as F, done: false });
    else ready.push(f as F);
    if (waiters.length === 0) {
      timer?.clear();
      timer = undefined;
    } else if (pending.size === 0) endWaiters();
  };
  // Already-done futures run their callback at once, so they are queued first.
  for (const f of [...pending]) f.addDoneCallback(onDone);
  const detach = (): void => {
    for (const f of pending) f._removeDoneCallback(onDone);
  };
  const timeoutError = (): TimeoutError => new TimeoutError(`asCompleted: ${pending.size} (of ${total}) futures unfinished after ${timeout} ms`);
  // Once it has thrown its TimeoutError the iteration is over, as Python's as_completed
  // generator is: later next() calls are done.
  const expire = (): void => {
    timer = undefined;
    detach();
    const error = timeoutError();
    closed = true;
    for (const w of waiters.drain()) w.reject(error);
  };

  const iterator: AsyncIterableIterator<F> = {
    next(): Promise<IteratorResult<F>> {
      if (ready.length > 0) return Promise.resolve({ value: ready.shift()!, done: false });
      if (closed || pending.size === 0) return Promise.resolve(DONE);
      const left = deadline === undefined ? undefined : deadline - performance.now();
      if (left !== undefined && left <= 0) {
        detach();
        const error = timeoutError();
        closed = true;
        return Promise.reject(error);
      }
      return new Promise<IteratorResult<F>>((resolve, reject) => {
        waiters.push({ resolve, reject });
        if (left !== undefined && timer === undefined) timer = setLongTimeout(expire, left);
      });
    },
    return(): Promise<IteratorResult<F>> {
      closed = true;
      detach();
      pending.clear();
      ready.drain();
      endWaiters();
      return Promise.resolve(DONE);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return iterator;
}
