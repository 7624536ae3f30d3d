import { describeThrown } from '../util/thrown.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';
import { CancelledError, InvalidStateError, TimeoutError } from './errors.js';

/** The states a Future passes through, as in CPython's concurrent.futures. */
export type FutureState = 'PENDING' | 'RUNNING' | 'CANCELLED' | 'FINISHED';

// Internal states. CANCELLED_AND_NOTIFIED is CPython's: a cancelled Future whose
// executor has seen the cancellation and will never run it. Callers see 'CANCELLED'.
const PENDING = 0;
const RUNNING = 1;
const CANCELLED = 2;
const CANCELLED_AND_NOTIFIED = 3;
const FINISHED = 4;
const FAILED = 5; // FINISHED with an exception; one field fewer than a separate flag
type State = typeof PENDING | typeof RUNNING | typeof CANCELLED | typeof CANCELLED_AND_NOTIFIED | typeof FINISHED | typeof FAILED;

const STATE_NAMES: readonly FutureState[] = ['PENDING', 'RUNNING', 'CANCELLED', 'CANCELLED', 'FINISHED', 'FINISHED'];

/** A Future's Promise and, until it settles, the functions that settle it. */
interface Deferred<T> {
  promise: Promise<T>;
  resolve: ((v: any) => void) | undefined;
  reject: ((e: unknown) => void) | undefined;
}

/**
 * Called once when a Future settles. It may be async: a promise it returns that
 * rejects is logged, as a throw is.
 */
export type DoneCallback<T> = (future: Future<T>) => unknown;

// Set by the static block of Future (they read its private fields).
let asPromise: <T>(f: Future<T>) => Promise<T>;
let settledPromise: <T>(f: Future<T>) => Promise<T>;
let waitDone: (f: Future<any>, timeout: number | undefined) => Promise<void>;
let removeCallback: (f: Future<any>, fn: DoneCallback<any>) => void;
let settle: (f: Future<any>) => void;
let invoke: (f: Future<any>, fn: DoneCallback<any>) => void;
let logCallbackError: (f: Future<any>, err: unknown) => void;

/**
 * The eventual result of a task, with Python's semantics.
 *
 * A Future is also a thenable, so `await future` gives the result or throws the
 * task's error (or CancelledError). It allocates no Promise until something
 * awaits it, so unobserved failures never become unhandled rejections.
 */
export class Future<T = unknown> implements PromiseLike<T> {
  #state: State = PENDING;
  #value: unknown = undefined; // the result, or the exception when FAILED
  // Most Futures have zero or one callback: keep the single one without an array.
  // Typed loosely so that a Future<number> is still a Future<unknown> (wait([...]) of mixed types).
  #callbacks: DoneCallback<any> | DoneCallback<any>[] | undefined = undefined;
  // The Promise behind `await`, made only when something awaits: one field, not three,
  // since a pool keeps thousands of pending Futures and most are never awaited.
  #deferred: Deferred<T> | undefined = undefined;
  #taskName: string | undefined = undefined;

  /** 'PENDING', 'RUNNING', 'CANCELLED' or 'FINISHED'. */
  get state(): FutureState {
    return STATE_NAMES[this.#state]!;
  }

  /** Cancels the Future if it has not started; true if it is (now) cancelled. */
  cancel(): boolean {
    const s = this.#state;
    if (s === RUNNING || s >= FINISHED) return false;
    if (s === CANCELLED || s === CANCELLED_AND_NOTIFIED) return true;
    this.#state = CANCELLED;
    settle(this);
    return true;
  }

  /** True once cancelled. */
  cancelled(): boolean {
    return this.#state === CANCELLED || this.#state === CANCELLED_AND_NOTIFIED;
  }

  /** True while the task runs. */
  running(): boolean {
    return this.#state === RUNNING;
  }

  /** True once cancelled or finished. */
  done(): boolean {
    return this.#state >= CANCELLED;
  }

  /**
   * The task's result, waiting up to `timeout` ms (forever when undefined).
   * Rejects with TimeoutError, CancelledError, or the task's own error.
   */
  result(timeout?: number): Promise<T> {
    checkTimeout(timeout);
    if (this.done()) return settledPromise(this);
    return waitDone(this, timeout).then(() => settledPromise(this));
  }

  /**
   * The task's error, or undefined if it succeeded, waiting up to `timeout` ms.
   * Rejects with TimeoutError or CancelledError.
   */
  exception(timeout?: number): Promise<unknown> {
    const read = (): unknown => {
      if (this.cancelled()) throw new CancelledError('the future was cancelled');
      return this.#state === FAILED ? this.#value : undefined;
    };
    checkTimeout(timeout);
    if (this.done()) return new Promise((resolve) => resolve(read()));
    return waitDone(this, timeout).then(read);
  }

  /**
   * The result of a done Future, at once: Python's `future.result()` inside a done
   * callback. Throws the task's own error, CancelledError if cancelled, and
   * InvalidStateError while not done. Unlike other `*Sync` calls it never blocks: a
   * Future settles through the event loop, which a blocked thread would stop.
   */
  resultSync(): T {
    if (this.cancelled()) throw new CancelledError('the future was cancelled');
    if (this.#state === FAILED) throw this.#value;
    if (this.#state !== FINISHED) throw new InvalidStateError(`resultSync() needs a done future, and this one is not done (${this.state}); await result() instead`);
    return this.#value as T;
  }

  /**
   * The error of a done Future (undefined if it succeeded), at once. Throws
   * CancelledError if cancelled and InvalidStateError while not done.
   */
  exceptionSync(): unknown {
    if (this.cancelled()) throw new CancelledError('the future was cancelled');
    if (!this.done()) throw new InvalidStateError(`exceptionSync() needs a done future, and this one is not done (${this.state}); await exception() instead`);
    return this.#state === FAILED ? this.#value : undefined;
  }

  /**
   * Calls `fn(this)` when the Future settles, at once if it already has. A callback
   * that throws, or whose promise rejects, is logged to stderr (with the task's name
   * and the error) and never stops the others or the program.
   */
  addDoneCallback(fn: DoneCallback<T>): void {
    if (typeof fn !== 'function') throw new TypeError(`addDoneCallback expects a function, got ${typeof fn}`);
    if (this.done()) {
      invoke(this, fn);
      return;
    }
    const cbs = this.#callbacks;
    if (cbs === undefined) this.#callbacks = fn;
    else if (typeof cbs === 'function') this.#callbacks = [cbs, fn];
    else cbs.push(fn);
  }

  /**
   * For executors: marks the Future running and returns true, or returns false if it
   * was cancelled (and must not run). Throws InvalidStateError from any other state.
   */
  setRunningOrNotifyCancel(): boolean {
    const s = this.#state;
    if (s === CANCELLED) {
      this.#state = CANCELLED_AND_NOTIFIED;
      return false;
    }
    if (s === PENDING) {
      this.#state = RUNNING;
      return true;
    }
    throw new InvalidStateError(`future in unexpected state: ${STATE_NAMES[s]}`);
  }

  /** For executors: finishes the Future with a result. */
  setResult(value: T): void {
    if (this.#state >= CANCELLED) throw new InvalidStateError(`cannot set the result of a ${this.state} future`);
    this.#value = value;
    this.#state = FINISHED;
    settle(this);
  }

  /** For executors: finishes the Future with an error. */
  setException(error: unknown): void {
    if (this.#state >= CANCELLED) throw new InvalidStateError(`cannot set the exception of a ${this.state} future`);
    this.#value = error;
    this.#state = FAILED;
    settle(this);
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return asPromise(this).then(onFulfilled, onRejected);
  }

  /** Same as `then(undefined, onRejected)`. */
  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return asPromise(this).then(undefined, onRejected);
  }

  /** Same as Promise.prototype.finally. */
  finally(onFinally?: (() => void) | null): Promise<T> {
    return asPromise(this).finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return `Future ${this.state}`;
  }

  /**
   * The name a log line gives this Future's task, undefined when it has none. An
   * executor whose Futures know more (a module, say) overrides it.
   */
  protected describeTask(): string | undefined {
    return this.#taskName;
  }

  /** @internal Names the task, for logs (executors call it as they hand the Future out). */
  _setTaskName(name: string): void {
    this.#taskName = name;
  }

  /** @internal True when finished with an error (not cancelled); lets `wait` decide without awaiting. */
  _failed(): boolean {
    return this.#state === FAILED;
  }

  /** @internal Removes a callback that was added and has not run (used by waiters that give up). */
  _removeDoneCallback(fn: DoneCallback<T>): void {
    removeCallback(this, fn);
  }


  // The Future's own helpers, written here to read its private fields, yet not private
  // methods: a class with private methods gives every instance one field more (its
  // brand), and a pool holds thousands of pending Futures.
  static {
    asPromise = <T>(f: Future<T>): Promise<T> => {
      let deferred = f.#deferred;
      if (deferred === undefined) {
        if (f.done()) {
          deferred = { promise: settledPromise(f), resolve: undefined, reject: undefined };
        } else {
          deferred = { promise: undefined!, resolve: undefined, reject: undefined };
          const d = deferred;
          d.promise = new Promise<T>((resolve, reject) => {
            d.resolve = resolve;
            d.reject = reject;
          });
        }
        f.#deferred = deferred;
      }
      return deferred.promise;
    };

    settledPromise = <T>(f: Future<T>): Promise<T> => {
      if (f.cancelled()) return Promise.reject(new CancelledError('the future was cancelled'));
      if (f.#state === FAILED) return Promise.reject(f.#value);
      return Promise.resolve(f.#value as T);
    };

    waitDone = (f: Future<any>, timeout: number | undefined): Promise<void> => {
      return new Promise<void>((resolve, reject) => {
        let timer: LongTimeout | undefined;
        const onDone = (): void => {
          timer?.clear();
          resolve();
        };
        f.addDoneCallback(onDone);
        if (timeout !== undefined) {
          timer = setLongTimeout(() => {
            removeCallback(f, onDone);
            reject(new TimeoutError(`future not done after ${timeout} ms`));
          }, timeout);
        }
      });
    };

    removeCallback = (f: Future<any>, fn: DoneCallback<any>): void => {
      const cbs = f.#callbacks;
      if (cbs === fn) f.#callbacks = undefined;
      else if (Array.isArray(cbs)) {
        const i = cbs.indexOf(fn);
        if (i >= 0) cbs.splice(i, 1);
      }
    };

    settle = (f: Future<any>): void => {
      const d = f.#deferred;
      if (d !== undefined && d.resolve !== undefined) {
        if (f.cancelled()) d.reject!(new CancelledError('the future was cancelled'));
        else if (f.#state === FAILED) d.reject!(f.#value);
        else d.resolve(f.#value);
        d.resolve = d.reject = undefined;
      }
      const cbs = f.#callbacks;
      if (cbs === undefined) return;
      f.#callbacks = undefined;
      if (typeof cbs === 'function') invoke(f, cbs);
      else for (const cb of cbs) invoke(f, cb);
    };

    invoke = (f: Future<any>, fn: DoneCallback<any>): void => {
      let returned: unknown;
      try {
        returned = fn(f);
      } catch (err) {
        logCallbackError(f, err);
        return;
      }
      // An async callback fails later; its rejection is ours to report, or it would end
      // the program as an unhandled rejection (Python logs and carries on).
      if (returned !== null && (typeof returned === 'object' || typeof returned === 'function')) {
        try {
          Promise.resolve(returned).then(undefined, (err: unknown) => logCallbackError(f, err));
        } catch (err) {
          logCallbackError(f, err); // a promise subclass whose species getter throws
        }
      }
    };

    // As CPython logs and carries on: one bad callback must not starve the rest. The line
    // names what a user can act on (the task, the error), never the Future's internals.
    logCallbackError = (f: Future<any>, err: unknown): void => {
      let task: string | undefined;
      try {
        task = f.describeTask();
      } catch {
        task = undefined;
      }
      const of = task === undefined ? 'a Future' : `task ${task}`;
      console.error(`concur: exception calling a done callback of ${of} (${f.state}):\n${describeThrown(err)}`);
    };
  }
}

/** Throws a RangeError for a timeout that is not undefined or a finite number >= 0. */
export function checkTimeout(timeout: unknown, what = 'timeout'): void {
  if (timeout === undefined) return;
  if (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout)) {
    throw new RangeError(`${what} must be a finite number of milliseconds >= 0 or undefined, got ${describe(timeout)}`);
  }
}

/** Renders a value for an error message: `-1 (number)`. */
export function describe(value: unknown): string {
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  return `${shown} (${value === null ? 'null' : typeof value})`;
}
