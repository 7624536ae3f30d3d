import { TimeoutError } from '../futures/errors.js';
import { checkTimeout } from '../futures/future.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';

const PENDING = 0;
const OK = 1;
const FAILED = 2;

/**
 * The result of `Pool.applyAsync` and `Pool.mapAsync`: multiprocessing.pool.AsyncResult.
 * It becomes ready after its callback (if any) has run, as in Python, so `get()` never
 * returns ahead of the callback. Awaiting it is `get()`. A failed result nobody asks for
 * is not an unhandled rejection: no Promise exists until something waits.
 */
export class AsyncResult<T = unknown> implements PromiseLike<T> {
  #state: typeof PENDING | typeof OK | typeof FAILED = PENDING;
  #value: unknown = undefined;
  #waiters: Array<() => void> = [];

  /** True once the call has completed (and its callback has run). */
  ready(): boolean {
    return this.#state !== PENDING;
  }

  /** True if the call completed without an error; throws a RangeError while not ready, as Python's ValueError. */
  successful(): boolean {
    if (this.#state === PENDING) throw new RangeError('AsyncResult not ready: successful() can only be asked once ready() is true');
    return this.#state === OK;
  }

  /** Waits until the result is ready, or until `timeout` ms pass; resolves either way, as Python's wait. */
  async wait(timeout?: number): Promise<void> {
    checkTimeout(timeout);
    await this.#ready(timeout);
  }

  /** The result, waiting up to `timeout` ms: rejects with TimeoutError after it, or with the call's own error. */
  async get(timeout?: number): Promise<T> {
    checkTimeout(timeout);
    if (!(await this.#ready(timeout))) throw new TimeoutError(`result not ready after ${timeout} ms`);
    if (this.#state === FAILED) throw this.#value;
    return this.#value as T;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.get().then(onFulfilled, onRejected);
  }

  /** @internal Completes the result (the pool calls it once, after the callback). */
  _set(ok: boolean, value: unknown): void {
    if (this.#state !== PENDING) return;
    this.#state = ok ? OK : FAILED;
    this.#value = value;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** True once ready, false if `timeout` ms passed first. */
  #ready(timeout: number | undefined): Promise<boolean> {
    if (this.#state !== PENDING) return Promise.resolve(true);
    if (timeout === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: LongTimeout | undefined;
      const wake = (): void => {
        timer?.clear();
        resolve(true);
      };
      this.#waiters.push(wake);
      if (timeout !== undefined) {
        timer = setLongTimeout(() => {
          const i = this.#waiters.indexOf(wake);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve(false);
        }, timeout);
      }
    });
  }
}
