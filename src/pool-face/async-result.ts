import { TimeoutError } from '../futures/errors.js';
import { checkTimeout } from '../futures/future.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';

/** The outcome of a result not ready yet. */
const PENDING: unique symbol = Symbol('pending');

/** The outcome of a failed call: its error, boxed (only a failure costs a box). */
class Failure {
  constructor(readonly error: unknown) {}
}

/**
 * The rejection of a wait, from inside a pool's callback, for a result that has a callback
 * of its own: callbacks run one at a time, so it cannot be ready before the one waiting
 * returns (Python's result-handler thread hangs there).
 */
function selfWait(what: string): Promise<never> {
  return Promise.reject(
    new Error(
      `AsyncResult.${what}() was called from inside a callback of its pool, for a result that has a callback too: callbacks run one at a time, ` +
        'so it could only be ready after the waiting one returns, which would wait for ever. Wait for it outside the callbacks, or give a timeout',
    ),
  );
}

// Set by the static block of AsyncResult (they read its private fields).
let settled: <T>(r: AsyncResult<T>) => Promise<T>;
let whenReady: (r: AsyncResult<any>, timeout: number | undefined) => Promise<boolean>;

/**
 * The result of `Pool.applyAsync` and `Pool.mapAsync`: multiprocessing.pool.AsyncResult.
 * It becomes ready after its callback (if any) has run, as in Python, so `get()` never
 * returns ahead of the callback. Awaiting it is `get()`. A failed result nobody asks for
 * is not an unhandled rejection: no Promise exists until something waits.
 *
 * A pool of tiny tasks makes one per task, so it holds three fields and allocates
 * nothing more until something waits on it before it is ready.
 */
export class AsyncResult<T = unknown> implements PromiseLike<T> {
  /** PENDING, the value, or a Failure: one field for both state and value. */
  #outcome: unknown = PENDING;
  /** Who waits for it to be ready: none, one, or several. */
  #waiters: (() => void) | Array<() => void> | undefined = undefined;
  /** @internal The callbacks the pool runs before this is ready (the pool keeps them here rather than in a closure per task). */
  _callbacks:
    | {
        callback?: ((value: any) => unknown) | undefined;
        errorCallback?: ((error: unknown) => unknown) | undefined;
        /** True when called from inside one of the pool's callbacks, which run one at a time: this result, ready after its own, cannot be waited for there. */
        insideCallback?: () => boolean;
      }
    | undefined;

  /** @internal Made by the pool, with the call's callbacks. */
  constructor(callbacks?: AsyncResult['_callbacks']) {
    this._callbacks = callbacks;
  }

  /** True once the call has completed (and its callback has run). */
  ready(): boolean {
    return this.#outcome !== PENDING;
  }

  /** True if the call completed without an error; throws a RangeError while not ready, as Python's ValueError. */
  successful(): boolean {
    if (this.#outcome === PENDING) throw new RangeError('AsyncResult not ready: successful() can only be asked once ready() is true');
    return !(this.#outcome instanceof Failure);
  }

  /** Waits until the result is ready, or until `timeout` ms pass; resolves either way, as Python's wait. */
  wait(timeout?: number): Promise<void> {
    try {
      checkTimeout(timeout);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#outcome !== PENDING) return Promise.resolve();
    if (timeout === undefined && this._callbacks?.insideCallback?.()) return selfWait('wait');
    return whenReady(this, timeout).then(() => undefined);
  }

  /** The result, waiting up to `timeout` ms: rejects with TimeoutError after it, or with the call's own error. */
  get(timeout?: number): Promise<T> {
    try {
      checkTimeout(timeout);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#outcome !== PENDING) return settled(this);
    if (timeout === undefined && this._callbacks?.insideCallback?.()) return selfWait('get');
    return whenReady(this, timeout).then((ready) => {
      if (!ready) throw new TimeoutError(`result not ready after ${timeout} ms`);
      return settled(this);
    });
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.get().then(onFulfilled, onRejected);
  }

  /** @internal Completes the result (the pool calls it once, after the callback). */
  _set(ok: boolean, value: unknown): void {
    if (this.#outcome !== PENDING) return;
    this.#outcome = ok ? value : new Failure(value);
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    this.#waiters = undefined;
    if (typeof waiters === 'function') waiters();
    else for (const wake of waiters) wake();
  }

  // Written here to read the private fields, yet not private methods: those would give
  // every AsyncResult one field more (its class brand), and a pool makes one per task.
  static {
    settled = <T>(r: AsyncResult<T>): Promise<T> => {
      const outcome = r.#outcome;
      return outcome instanceof Failure ? Promise.reject(outcome.error) : Promise.resolve(outcome as T);
    };

    /** True once ready, false if `timeout` ms passed first. */
    whenReady = (r: AsyncResult<any>, timeout: number | undefined): Promise<boolean> => {
      if (timeout === 0) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        let timer: LongTimeout | undefined;
        const wake = (): void => {
          timer?.clear();
          resolve(true);
        };
        const waiters = r.#waiters;
        if (waiters === undefined) r.#waiters = wake;
        else if (typeof waiters === 'function') r.#waiters = [waiters, wake];
        else waiters.push(wake);
        if (timeout !== undefined) {
          timer = setLongTimeout(() => {
            const now = r.#waiters;
            if (now === wake) r.#waiters = undefined;
            else if (Array.isArray(now)) {
              const i = now.indexOf(wake);
              if (i >= 0) now.splice(i, 1);
            }
            resolve(false);
          }, timeout);
        }
      });
    };
  }
}
