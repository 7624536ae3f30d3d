/**
 * multiprocessing.Pool and multiprocessing.pool.ThreadPool, as a thin face over the
 * executors, for programs ported from Python.
 *
 *   applyAsync ─► scheduler ─► done callback ─► #deliver ─► callback queue ─► AsyncResult ready
 *   mapAsync   ─► gather (a chunk a task) ─► the whole list ─► #deliver ─► ...
 *   apply / map / starmap ─► the same, awaited
 *   imap / imapUnordered  ─► executor.map (ordered or not), every chunk submitted at the call
 *
 * applyAsync and map go straight to the executor's scheduler and listen to its Future
 * with a done callback: a task costs a Future and an AsyncResult, no Promise, and a
 * map no iterator (see gather.ts).
 *
 * The face adds what Python's Pool has and an executor does not: its states (RUN,
 * CLOSE, TERMINATE) and their rules, callbacks that run one at a time in the calling
 * thread before their result becomes ready (Python's result-handler thread), a `join`
 * that returns once every callback has run, and `terminate` that stops the workers
 * in the middle of their tasks.
 */
import { CancelledError } from '../futures/errors.js';
import { checkInteger, type TaskFunction } from '../futures/executor.js';
import { describe, type Future } from '../futures/future.js';
import { runMap, SingleArgs } from '../futures/map.js';
import { CALL } from '../futures/task-mode.js';
import type { PoolExecutor } from '../pool/pool-executor.js';
import { NO_ARGS } from '../pool/item.js';
import { ProcessPoolExecutor } from '../processes/process-pool.js';
import { ThreadPoolExecutor } from '../threads/thread-pool.js';
import { describeThrown } from '../util/thrown.js';
import { isWithin, refusedSelfWait } from '../util/self-wait.js';
import { AsyncResult } from './async-result.js';
import { failureOf, gather } from './gather.js';
import { withNextTimeout, type IMapIterator } from './imap-iterator.js';

/** Options of a Pool or ThreadPool, named as Python's. */
export interface PoolFaceOptions {
  /** How many workers; null (Python's None) or absent: os.availableParallelism(), as Python's os.cpu_count(). */
  processes?: number | null;
  /** Runs in each worker before its first task (a defineTasks task or a self-contained function). */
  initializer?: TaskFunction;
  /** Arguments for `initializer`. @default [] */
  initargs?: unknown[];
  /** Replace a worker after it has run this many tasks (a chunk of `map` counts as one); null (None) or absent: never. */
  maxtasksperchild?: number | null;
}

/** Callbacks of `applyAsync`, `mapAsync` and `starmapAsync`; each runs in this thread, one at a time. */
export interface CallbackOptions<R> {
  /** Called with the result before it becomes ready. */
  callback?: (result: R) => unknown;
  /** Called with the error if the call failed. */
  errorCallback?: (error: unknown) => unknown;
}

/** Options of `mapAsync` and `starmapAsync`. */
export interface MapAsyncOptions<R> extends CallbackOptions<R> {
  /** Items per task. @default about four chunks per worker, as Python */
  chunksize?: number;
}

/** The options of a call without callbacks: one object for all of them, not one per call. */
const NO_CALLBACKS: MapAsyncOptions<any> = Object.freeze({});
const RUN = 0;
const CLOSE = 1;
const TERMINATE = 2;
const KNOWN = new Set(['processes', 'initializer', 'initargs', 'maxtasksperchild']);

/** What Pool and ThreadPool share; only the executor underneath differs. */
abstract class BasePool implements AsyncDisposable {
  readonly #executor: PoolExecutor;
  #state: typeof RUN | typeof CLOSE | typeof TERMINATE = RUN;
  #callbacks: Promise<void> = Promise.resolve(); // the queue callbacks run through, one at a time
  #outstanding = 0; // applyAsync/mapAsync results not yet ready
  #idle: Array<() => void> = [];
  #terminated: Promise<void> | undefined;
  /** Once terminate() was called: resolves when the workers have exited. */
  #stopped: Promise<void> | undefined;
  #joined: Promise<void> | undefined;

  constructor(processes: number | null | PoolFaceOptions | undefined, name: string, make: (options: ConstructorParameters<typeof ThreadPoolExecutor>[0]) => PoolExecutor) {
    // Pool(null) is Python's Pool(None): the default number of workers.
    const options: PoolFaceOptions = typeof processes === 'number' || processes === undefined || processes === null ? { processes } : processes;
    if (options === null || typeof options !== 'object') throw new TypeError(`${name} expects a number of processes or an options object, got ${describe(options)}`);
    for (const key of Object.keys(options)) if (!KNOWN.has(key)) throw new TypeError(`${name}: unknown option "${key}"`);
    const n = options.processes ?? undefined;
    if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1)) {
      throw new RangeError(`Number of processes must be at least 1: processes must be an integer >= 1, got ${describe(n)}`);
    }
    const m = options.maxtasksperchild;
    if (m !== undefined && m !== null && (typeof m !== 'number' || !Number.isInteger(m) || m < 1)) {
      throw new RangeError(`maxtasksperchild must be an integer >= 1 or undefined, got ${describe(m)}`);
    }
    this.#executor = make({
      maxWorkers: n,
      initializer: options.initializer,
      initargs: options.initargs,
      maxTasksPerWorker: m ?? undefined,
    });
  }

  /** Runs `fn(...args)` in a worker and resolves to its result (Python's blocking apply). */
  apply<A extends unknown[], R>(fn: TaskFunction<A, R>, args?: A): Promise<Awaited<R>> {
    return this.applyAsync(fn, args).get();
  }

  /** Runs `fn(...args)` in a worker; the AsyncResult is ready once it has, and its callback has run. */
  applyAsync<A extends unknown[], R>(fn: TaskFunction<A, R>, args?: A, callbacks: CallbackOptions<Awaited<R>> = NO_CALLBACKS): AsyncResult<Awaited<R>> {
    this.#checkRunning();
    if (typeof fn !== 'function') throw new TypeError(`applyAsync expects a function, got ${describe(fn)}`);
    if (args !== undefined && !Array.isArray(args)) throw new TypeError(`args must be an array, got ${describe(args)}`);
    checkCallbacks(callbacks);
    // The caller may reuse its array before the task leaves: a longer one is copied, as
    // submit(fn, ...args) would; a single argument is read now and kept without an array.
    const future = this.#executor._schedule(fn as TaskFunction, args === undefined ? NO_ARGS : args.length <= 1 ? args : args.slice(), CALL);
    const result = this.#begin<Awaited<R>>(callbacks);
    // One done callback for every task: the Future (the scheduler's record) says which result it settles.
    future.sink = result;
    future.addDoneCallback(this.#onDone);
    return result;
  }

  /** Settles the AsyncResult of an applyAsync call whose Future is done. */
  readonly #onDone = (f: Future<unknown> & { sink?: unknown }): void => {
    const result = f.sink as AsyncResult<unknown>;
    f.sink = undefined;
    // Kept, not cleared: a wait on the result from inside a callback still finds its pool's check.
    const callbacks = result._callbacks;
    if (f._failed() || f.cancelled()) this.#deliver(result, false, failureOf(f), callbacks?.errorCallback);
    else this.#deliver(result, true, f.resultSync(), callbacks?.callback);
  };

  /** `fn(item)` for every item, in a worker each chunk; resolves to the results in order. */
  map<T, R>(fn: TaskFunction<[T], R>, iterable: Iterable<T>, chunksize?: number): Promise<Awaited<R>[]> {
    return this.mapAsync(fn, iterable, { chunksize }).get();
  }

  /** `map` as an AsyncResult of the whole list, with callbacks. */
  mapAsync<T, R>(fn: TaskFunction<[T], R>, iterable: Iterable<T>, options: MapAsyncOptions<Awaited<R>[]> = NO_CALLBACKS): AsyncResult<Awaited<R>[]> {
    return this.#gather(fn as TaskFunction, iterable, options, true) as AsyncResult<Awaited<R>[]>;
  }

  /** `fn(...args)` for every argument array; resolves to the results in order. */
  starmap<A extends unknown[], R>(fn: TaskFunction<A, R>, iterable: Iterable<A>, chunksize?: number): Promise<Awaited<R>[]> {
    return this.starmapAsync(fn, iterable, { chunksize }).get();
  }

  /** `starmap` as an AsyncResult of the whole list, with callbacks. */
  starmapAsync<A extends unknown[], R>(fn: TaskFunction<A, R>, iterable: Iterable<A>, options: MapAsyncOptions<Awaited<R>[]> = NO_CALLBACKS): AsyncResult<Awaited<R>[]> {
    return this.#gather(fn as TaskFunction, iterable, options, false) as AsyncResult<Awaited<R>[]>;
  }

  #gather(fn: TaskFunction, iterable: Iterable<unknown>, options: MapAsyncOptions<any>, single: boolean): AsyncResult<unknown[]> {
    this.#checkRunning();
    const what = single ? 'map' : 'starmap';
    if (typeof fn !== 'function') throw new TypeError(`${what} expects a function, got ${describe(fn)}`);
    const { callback, errorCallback } = checkCallbacks(options);
    let chunksize = options.chunksize;
    checkInteger('chunksize', chunksize, 1);
    const items = toArray(iterable);
    if (!single) {
      for (const args of items) if (!Array.isArray(args)) throw new TypeError(`starmap expects argument arrays, got ${describe(args)}`);
    }
    if (items.length === 0) {
      // Ready at once with [], and neither callback is called: CPython's MapResult of an
      // empty list sets itself and never calls back.
      const empty = this.#begin<unknown[]>(NO_CALLBACKS);
      this.#deliver(empty, true, [], undefined);
      return empty;
    }
    chunksize ??= this.#executor._autoChunksize(items.length);
    const result = this.#begin<unknown[]>(options);
    try {
      gather(this.#executor, fn, items, chunksize, single, (ok, value) => this.#deliver(result, ok, value, (ok ? callback : errorCallback) as ((v: unknown) => unknown) | undefined));
    } catch (err) {
      this.#settled(); // nothing will deliver it
      throw err;
    }
    return result;
  }

  /** The results of `fn(item)` in input order, each as soon as it and those before it are done. @default chunksize 1 */
  imap<T, R>(fn: TaskFunction<[T], R>, iterable: Iterable<T>, chunksize = 1): IMapIterator<Awaited<R>> {
    return this.#imap(fn as TaskFunction, iterable, chunksize, true) as IMapIterator<Awaited<R>>;
  }

  /** The results of `fn(item)` in the order they complete. @default chunksize 1 */
  imapUnordered<T, R>(fn: TaskFunction<[T], R>, iterable: Iterable<T>, chunksize = 1): IMapIterator<Awaited<R>> {
    return this.#imap(fn as TaskFunction, iterable, chunksize, false) as IMapIterator<Awaited<R>>;
  }

  /**
   * The executor's map engine with Python's IMapIterator rule: a failed item is thrown by
   * its next() and the next call goes on to the items after it (a failed chunk ends the
   * iteration, as Python's chunked imap, a generator over the chunks, ends).
   */
  #imap(fn: TaskFunction, iterable: Iterable<unknown>, chunksize: number, ordered: boolean): IMapIterator<unknown> {
    this.#checkRunning();
    const what = ordered ? 'imap' : 'imapUnordered';
    if (typeof fn !== 'function') throw new TypeError(`${what} expects a function, got ${describe(fn)}`);
    checkInteger('chunksize', chunksize, 1);
    const items = toArray(iterable);
    const executor = this.#executor;
    const inner = runMap(new SingleArgs(items), {
      chunksize,
      buffersize: Infinity, // every chunk at the call, as Python's task handler takes them
      ordered,
      timeout: undefined,
      signal: undefined,
      keepGoing: true,
      submit: (args, mode) => executor._schedule(fn, args, mode),
    });
    return withNextTimeout(inner, what);
  }

  /** Accepts no more work; what was submitted still runs, and the workers exit when it is done. */
  close(): void {
    if (this.#state !== RUN) return;
    this.#state = CLOSE;
    void this.#executor.shutdown({ wait: false });
  }

  /**
   * Stops the workers at once, in the middle of their tasks: results not ready then
   * fail with CancelledError and their callbacks never run (in Python they never
   * complete). Resolves once every worker has exited.
   */
  terminate(): Promise<void> {
    if (this.#terminated === undefined) {
      this.#state = TERMINATE;
      this.#stopped = this.#executor._terminate(new CancelledError('the pool was terminated while this task ran'));
      this.#terminated = this.#stopped.then(() => this.#whenIdle());
    }
    // Called from a callback, it cannot wait for the results still to be delivered (that
    // callback's own, and those queued behind it): as Python's terminate() in its
    // result-handler thread, which does not join that thread, it waits for the workers.
    if (this.#insideCallback()) return this.#stopped!;
    return this.#terminated;
  }

  /**
   * Waits until the workers have exited and every callback has run. Throws a
   * RangeError (Python's ValueError) before `close()` or `terminate()`.
   */
  join(): Promise<void> {
    if (this.#state === RUN) throw new RangeError('Pool is still running: call close() or terminate() before join()');
    if (this.#insideCallback()) {
      // As Python's Thread.join() of the current thread: an error, not a wait for ever.
      return refusedSelfWait(
        'Pool.join() was called from inside one of its callbacks: it waits for every callback to have run, that one included, which would wait for itself for ever. ' +
        'Join the pool from outside its callbacks',
      );
    }
    if (this.#state === TERMINATE) return this.#terminated!;
    this.#joined ??= this.#executor.shutdown({ wait: true }).then(() => this.#whenIdle());
    return this.#joined;
  }

  /** Leaving an `await using` block terminates the pool, as leaving Python's `with Pool() as p:` does. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.terminate();
  }

  #checkRunning(): void {
    if (this.#state !== RUN) throw new RangeError(`Pool not running (it was ${this.#state === CLOSE ? 'closed' : 'terminated'})`);
  }

  /** A new AsyncResult the pool owes: join waits for it. */
  #begin<R>(callbacks?: CallbackOptions<R>): AsyncResult<R> {
    this.#outstanding++;
    // Read now, as Python binds them at the call: the caller may reuse its options object.
    const { callback, errorCallback } = callbacks ?? NO_CALLBACKS;
    return new AsyncResult<R>(callback === undefined && errorCallback === undefined ? undefined : { callback, errorCallback, insideCallback: this.#insideCallback });
  }

  #deliver(result: AsyncResult<any>, ok: boolean, value: unknown, callback: ((v: unknown) => unknown) | undefined): void {
    if (callback === undefined || this.#state === TERMINATE) {
      result._set(ok, value);
      this.#settled();
      return;
    }
    // One at a time, in completion order, and the result is ready only after its callback.
    this.#callbacks = this.#callbacks.then(() => this.#runCallback(result, ok, value, callback));
  }

  /** Runs a callback, then makes its result ready: one function, so join() can tell a call from inside a callback (see isWithin). */
  readonly #runCallback = async (result: AsyncResult<any>, ok: boolean, value: unknown, callback: (v: unknown) => unknown): Promise<void> => {
    this.#inCallback = true;
    try {
      if (this.#state !== TERMINATE) await callback(value);
    } catch (err) {
      console.error(`concur: exception in a Pool ${ok ? 'callback' : 'errorCallback'}:\n${describeThrown(err)}`);
    }
    this.#inCallback = false;
    result._set(ok, value);
    this.#settled();
  };

  /** A callback runs (awaited, if async): only then may a wait come from inside one, and the stack is worth looking at. */
  #inCallback = false;

  /** For AsyncResult: true when called from inside one of this pool's callbacks. */
  readonly #insideCallback = (): boolean => this.#inCallback && isWithin(this.#runCallback);

  #settled(): void {
    if (--this.#outstanding === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  #whenIdle(): Promise<void> {
    return this.#outstanding === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }
}

function toArray<T>(iterable: Iterable<T>): T[] {
  if (Array.isArray(iterable)) return iterable;
  if (iterable == null || typeof (iterable as any)[Symbol.iterator] !== 'function') {
    throw new TypeError(`expected an iterable, got ${describe(iterable)}`);
  }
  return Array.from(iterable); // as Python's Pool, which takes the whole iterable at the call
}

function checkCallbacks<R>(callbacks: CallbackOptions<R>): CallbackOptions<R> {
  const { callback, errorCallback } = callbacks;
  if (callback !== undefined && typeof callback !== 'function') throw new TypeError(`callback must be a function, got ${describe(callback)}`);
  if (errorCallback !== undefined && typeof errorCallback !== 'function') {
    throw new TypeError(`errorCallback must be a function, got ${describe(errorCallback)}`);
  }
  return callbacks;
}

/** A process pool whose workers are daemonic, as multiprocessing.Pool's. */
class DaemonicProcessPool extends ProcessPoolExecutor {
  protected override readonly daemonWorkers = true;
}

/**
 * multiprocessing.Pool: workers in child processes. Its workers are daemonic, as
 * Python's: a task that starts a Process there gets "daemonic processes are not
 * allowed to have children" (use ProcessPoolExecutor, whose workers are not).
 */
export class Pool extends BasePool {
  /** `new Pool(4)` or `new Pool({ processes, initializer, initargs, maxtasksperchild })`. */
  constructor(processes?: number | null | PoolFaceOptions) {
    super(processes, 'Pool', (options) => new DaemonicProcessPool(options));
  }
}

/** multiprocessing.pool.ThreadPool: the same face over worker threads. */
export class ThreadPool extends BasePool {
  /** `new ThreadPool(4)` or `new ThreadPool({ processes, initializer, initargs, maxtasksperchild })`. */
  constructor(processes?: number | null | PoolFaceOptions) {
    super(processes, 'ThreadPool', (options) => new ThreadPoolExecutor(options));
  }
}
