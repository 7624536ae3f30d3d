/**
 * Python's IMapIterator over the executor's map iterator: `next(timeout)` gives up
 * waiting with TimeoutError, and the result it gave up on goes to the next call, as
 * CPython's stays in the iterator. Each `next()` of the executor's iterator is asked
 * once, in order; a call that timed out leaves its answer at the front.
 */
import { TimeoutError } from '../futures/errors.js';
import { checkTimeout } from '../futures/future.js';
import { setLongTimeout } from '../util/timers.js';

/** The iterator of `imap` and `imapUnordered`: `for await` it, or call `next(timeout)` as in Python. */
export interface IMapIterator<T> extends AsyncIterableIterator<T> {
  /** The next result; given `timeout` ms, TimeoutError if none is ready by then (it is kept for the next call). */
  next(timeout?: number): Promise<IteratorResult<T>>;
}

/** `inner` with Python's `next(timeout)`. */
export function withNextTimeout<T>(inner: AsyncIterableIterator<T>, what: string): IMapIterator<T> {
  // Answers asked of `inner` for callers that stopped waiting, oldest first.
  const left: Array<Promise<IteratorResult<T>>> = [];
  return {
    next(timeout?: number): Promise<IteratorResult<T>> {
      try {
        checkTimeout(timeout);
      } catch (err) {
        return Promise.reject(err);
      }
      const answer = left.shift() ?? inner.next();
      if (timeout === undefined) return answer;
      return new Promise((resolve, reject) => {
        let late = false;
        const timer = setLongTimeout(() => {
          late = true;
          left.unshift(answer);
          reject(new TimeoutError(`${what}: no result within ${timeout} ms`));
        }, timeout);
        answer.then(
          (r) => {
            if (late) return;
            timer.clear();
            resolve(r);
          },
          (err: unknown) => {
            if (late) return;
            timer.clear();
            reject(err);
          },
        );
      });
    },
    return(value?: unknown): Promise<IteratorResult<T>> {
      left.length = 0;
      return inner.return ? inner.return(value) : Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
