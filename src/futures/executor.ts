import type { TransferListItem } from 'node:worker_threads';
import { checkTimeout, describe, Future } from './future.js';
import { runMap, SingleArgs } from './map.js';
import { CALL, type TaskMode } from './task-mode.js';

/** Any function an executor can run; its arguments and result types carry through. */
export type TaskFunction<A extends unknown[] = any[], R = unknown> = (...args: A) => R;

/** Options for one task, on every executor. */
export interface TaskOptions {
  /** Aborting cancels the task if it has not started, and stops it if it has; the Future fails with `signal.reason`. */
  signal?: AbortSignal;
  /** Milliseconds the task may run; past it the task is stopped and its Future fails with TimeoutError. */
  timeout?: number;
  /** Objects to move, not copy, to the worker (ArrayBuffers, MessagePorts). Ignored where nothing crosses. */
  transfer?: readonly TransferListItem[];
  /** How many more times to run a task that failed, crashed or timed out. @default 0 */
  retries?: number;
}

/** Options for `map` and `starmap`. */
export interface MapOptions {
  /**
   * Items sent to a worker as one task; larger chunks cut overhead for tiny items, and
   * a chunk fails as a whole. 'auto' picks as multiprocessing.Pool.map does: a quarter
   * of an even share per worker for arrays, 256 for other iterables. @default 1
   */
  chunksize?: number | 'auto';
  /** Milliseconds from the call for all results; TimeoutError past it, and the rest are cancelled. */
  timeout?: number;
  /** Yield results in input order (true) or as they complete (false). @default true */
  ordered?: boolean;
  /** Aborting cancels the outstanding items and makes the iteration throw `signal.reason`. */
  signal?: AbortSignal;
  /** At most this many chunks submitted ahead of the consumer; bounds memory for long inputs. @default unbounded for arrays, 1024 otherwise */
  buffersize?: number;
}

/** Options for `shutdown`. */
export interface ShutdownOptions {
  /** Wait until every submitted task is done and the workers are gone. @default true */
  wait?: boolean;
  /** Cancel the tasks that have not started. @default false */
  cancelFutures?: boolean;
}

/** The concurrent.futures Executor contract, the same from a coroutine to a cluster. */
export interface Executor extends AsyncDisposable {
  /** Schedules `fn(...args)` and returns its Future. Throws if the executor is shut down. */
  submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>>;
  /** `submit` with per-task options. */
  submitWith<A extends unknown[], R>(options: TaskOptions, fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>>;
  /** `fn(item)` for every item, as an async iterable of results. */
  map<T, R>(fn: TaskFunction<[T], R>, iterable: Iterable<T> | AsyncIterable<T>, options?: MapOptions): AsyncIterableIterator<Awaited<R>>;
  /** `fn(...args)` for every argument array. */
  starmap<A extends unknown[], R>(
    fn: TaskFunction<A, R>,
    iterable: Iterable<A> | AsyncIterable<A>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>>;
  /** Stops accepting tasks; by default waits for those submitted. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/** Checks that `value` is an integer >= min (or undefined when allowed), naming the option. */
export function checkInteger(name: string, value: unknown, min: number, optional = true): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer >= ${min}, got ${describe(value)}`);
  }
  if (value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${describe(value)}`);
}

/** Validates per-task options, naming the bad one. */
export function checkTaskOptions(options: TaskOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`task options must be an object, got ${describe(options)}`);
  checkTimeout(options.timeout, 'options.timeout');
  checkInteger('options.retries', options.retries, 0);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${describe(options.signal)}`);
  }
  if (options.transfer !== undefined && !Array.isArray(options.transfer)) {
    throw new TypeError(`options.transfer must be an array, got ${describe(options.transfer)}`);
  }
}

const MAP_OPTIONS = new Set(['chunksize', 'timeout', 'ordered', 'signal', 'buffersize']);

/**
 * `map`'s options are an object of known keys. An iterable there is a second iterable, as
 * Python's `executor.map(fn, xs, ys)` takes: read as options, it set none and the items
 * ran with one argument. A misspelt key would be ignored as silently.
 */
function checkMapOptions(options: MapOptions, what: string): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what} options must be an object, got ${describe(options)}`);
  if (Symbol.iterator in options || Symbol.asyncIterator in options) {
    throw new TypeError(
      `${what} takes one iterable, then its options; got ${Array.isArray(options) ? `an array of ${options.length}` : describe(options)} as options. For Python's map(fn, xs, ys), pass the argument arrays to starmap: starmap(fn, xs.map((x, i) => [x, ys[i]]))`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!MAP_OPTIONS.has(key)) throw new TypeError(`${what}: unknown option ${JSON.stringify(key)} (known: ${[...MAP_OPTIONS].join(', ')})`);
  }
}

/**
 * What every executor shares: shutdown bookkeeping, `map`/`starmap` on top of
 * `submit`, and `await using`. Subclasses schedule single tasks and chunks.
 */
export abstract class BaseExecutor implements Executor {
  #shutdown = false;

  /** True once `shutdown` has been called. */
  get isShutdown(): boolean {
    return this.#shutdown;
  }

  submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    return this.#submit(NO_OPTIONS, fn, args);
  }

  submitWith<A extends unknown[], R>(options: TaskOptions, fn: TaskFunction<A, R>, ...args: A): Future<Awaited<R>> {
    checkTaskOptions(options);
    return this.#submit(options, fn, args);
  }

  #submit<A extends unknown[], R>(options: TaskOptions, fn: TaskFunction<A, R>, args: A): Future<Awaited<R>> {
    this.#checkOpen();
    if (typeof fn !== 'function') throw new TypeError(`submit expects a function, got ${describe(fn)}`);
    const future = this.schedule(fn as TaskFunction, args, options, CALL) as Future<Awaited<R>>;
    const name: unknown = fn.name;
    future._setTaskName(typeof name === 'string' && name !== '' ? name : '<anonymous>');
    return future;
  }

  #checkOpen(): void {
    if (this.#shutdown) throw new Error(`cannot schedule new futures after shutdown (${this.constructor.name})`);
  }

  /**
   * Schedules `fn(...args)` (mode CALL), or `fn` over a chunk resolving to the array of
   * results: each element an argument array (CHUNK_ARGS) or a single argument (CHUNK_ITEMS).
   */
  protected abstract schedule(fn: TaskFunction, args: unknown[], options: TaskOptions, mode: TaskMode): Future<unknown>;

  /** The chunk size `chunksize: 'auto'` gives for `length` items (undefined: not known). */
  protected autoChunksize(length: number | undefined): number {
    void length;
    return 1;
  }

  /** Subclass hook run once by `shutdown`. */
  protected abstract doShutdown(options: Required<ShutdownOptions>): Promise<void>;

  #shutdownPromise: Promise<void> | undefined;

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = options;
    this.#shutdown = true;
    const p = this.doShutdown({ wait, cancelFutures });
    this.#shutdownPromise ??= p;
    return wait ? p : Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown({ wait: true });
  }

  map<T, R>(fn: TaskFunction<[T], R>, iterable: Iterable<T> | AsyncIterable<T>, options: MapOptions = {}): AsyncIterableIterator<Awaited<R>> {
    return this.#runMap(fn as TaskFunction, iterable, true, options) as AsyncIterableIterator<Awaited<R>>;
  }

  starmap<A extends unknown[], R>(
    fn: TaskFunction<A, R>,
    iterable: Iterable<A> | AsyncIterable<A>,
    options: MapOptions = {},
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#runMap(fn as TaskFunction, iterable, false, options) as AsyncIterableIterator<Awaited<R>>;
  }

  #runMap(fn: TaskFunction, iterable: Iterable<unknown> | AsyncIterable<unknown>, single: boolean, options: MapOptions): AsyncIterableIterator<unknown> {
    this.#checkOpen();
    if (typeof fn !== 'function') throw new TypeError(`map expects a function, got ${describe(fn)}`);
    checkMapOptions(options, single ? 'map' : 'starmap');
    const { timeout, ordered = true, signal } = options;
    let chunksize = options.chunksize ?? 1;
    if (chunksize === 'auto') chunksize = this.autoChunksize(Array.isArray(iterable) ? iterable.length : undefined);
    else checkInteger('chunksize', chunksize, 1);
    checkTimeout(timeout, 'timeout');
    checkInteger('buffersize', options.buffersize, 1);
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`signal must be an AbortSignal, got ${describe(signal)}`);
    if (iterable == null || (typeof (iterable as any)[Symbol.iterator] !== 'function' && typeof (iterable as any)[Symbol.asyncIterator] !== 'function')) {
      throw new TypeError(`map expects an iterable or async iterable, got ${describe(iterable)}`);
    }
    const buffersize = options.buffersize ?? (Array.isArray(iterable) ? Infinity : 1024);
    const taskOptions: TaskOptions = signal ? { signal } : NO_OPTIONS;
    return runMap(single ? new SingleArgs(iterable) : iterable, {
      chunksize,
      buffersize,
      ordered,
      timeout,
      signal,
      // map() submits as its consumer goes: after shutdown it gets the error submit()
      // gets, rather than starting work nobody will wait for.
      submit: (args, mode) => {
        this.#checkOpen();
        return this.schedule(fn, args, taskOptions, mode);
      },
    });
  }
}

/** Shared empty options, so the common path allocates nothing. */
export const NO_OPTIONS: TaskOptions = Object.freeze({});

