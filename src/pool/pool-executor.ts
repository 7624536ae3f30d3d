/**
 * The pool behind the Executor API: checks what is submitted, and leaves the rest to
 * the scheduler (scheduler.ts, where the picture of how a task flows is). A subclass
 * only says how to start a worker and how arguments cross to it.
 */
import { EventEmitter } from 'node:events';
import { Full } from '../futures/errors.js';
import { BaseExecutor, NO_OPTIONS, type ShutdownOptions, type TaskFunction, type TaskOptions } from '../futures/executor.js';
import type { Future } from '../futures/future.js';
import { CALL, CHUNK_ITEMS, type TaskMode } from '../futures/task-mode.js';
import { Connection } from '../transport/pipe.js';
import { threadOnlyQueue } from '../transport/nested.js';
import { Queue } from '../queues/queue.js';
import { isShared } from '../sync/shared.js';
import { packNumbers } from '../transport/numbers.js';
import { specName, specOf, type FunctionSpec } from '../tasks/describe.js';
import { checkNotBootstrapping } from '../tasks/main-guard.js';
import { FLAG_CHUNK, FLAG_ITEMS } from '../transport/protocol.js';
import { raiseMallocThresholds } from '../util/allocator.js';
import type { WorkerInit } from './worker-runtime.js';
import { failedFuture, NO_ARGS, ONE_ARG } from './item.js';
import type { PoolEvents, PoolOptions, PoolStats, WorkerEvents, WorkerHandle } from './pool-types.js';
import { Scheduler } from './scheduler.js';

export { asPoolOptions, checkPoolOptions } from './pool-types.js';
export type { Percentiles, PoolEvents, PoolOptions, PoolStats, WorkerEvents, WorkerHandle } from './pool-types.js';

const MODE_FLAGS = [0, FLAG_CHUNK, FLAG_ITEMS] as const;

/** Whether an argument list holds a Pipe end or a shared primitive (a plain loop: this runs for every task). */
function needsCrossing(args: unknown[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a !== null && typeof a === 'object' && (a instanceof Connection || isShared(a) || a instanceof Queue)) return true;
  }
  return false;
}

/** Throws for an argument that serves one thread only (a Queue), as Process and Thread do at start(). */
function refuseThreadOnly(args: unknown[], spec: FunctionSpec): void {
  for (let i = 0; i < args.length; i++) {
    const queue = threadOnlyQueue(args[i]);
    if (queue !== undefined) throw new TypeError(`argument ${i} (${queue.what}) of task ${specName(spec)} cannot cross: ${queue.why}`);
  }
}

/** A pool of workers behind the Executor API; subclasses start the workers. */
export abstract class PoolExecutor extends BaseExecutor {
  readonly #maxWorkers: number;
  readonly #maxQueue: number;
  readonly #events = new EventEmitter();
  readonly #scheduler: Scheduler;

  constructor(options: PoolOptions, defaultWorkers: number) {
    super();
    this.#maxWorkers = options.maxWorkers ?? defaultWorkers;
    this.#maxQueue = options.maxQueue ?? Infinity;
    let initializer: FunctionSpec | undefined;
    if (options.initializer !== undefined) initializer = specOf(options.initializer);
    const pool = this; // workerKind is the subclass's, set after this constructor: read it when asked
    this.#scheduler = new Scheduler(
      {
        get workerKind() {
          return pool.workerKind;
        },
        spawnWorker: (init, events) => this.spawnWorker(init, events),
        events: this.#events,
      },
      {
        maxWorkers: this.#maxWorkers,
        maxTasksPerWorker: options.maxTasksPerWorker ?? Infinity,
        idleTimeout: options.idleTimeout,
        init: { initializer, initargs: options.initargs ?? [] },
      },
    );
    // Large task messages otherwise fault in fresh pages on every trip (see util/allocator.ts).
    void raiseMallocThresholds();
  }

  /** Starts one worker running worker-runtime with `init`. */
  protected abstract spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle;

  /**
   * Prepares a task's Pipe ends and shared primitives for the trip to a worker: the
   * thread pool moves Pipe ports along; the process pool turns primitives into proxies.
   */
  protected abstract crossArgs(args: unknown[], options: TaskOptions): { args: unknown[]; options: TaskOptions };

  /** What a worker is called in messages: 'thread' or 'process'. */
  protected abstract readonly workerKind: string;

  /** Listens to a pool event: 'workerReady' or 'workerExit'. */
  on<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this {
    this.#events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Listens to the next occurrence of a pool event. */
  once<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this {
    this.#events.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Stops listening. */
  off<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this {
    this.#events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** As multiprocessing.Pool.map: about four chunks per worker for a known length. */
  protected override autoChunksize(length: number | undefined): number {
    if (length === undefined) return 256;
    return Math.max(1, Math.ceil(length / (4 * this.#maxWorkers)));
  }

  /** The pool's live counters and latency percentiles. */
  stats(): PoolStats {
    return this.#scheduler.stats();
  }

  protected schedule(fn: TaskFunction, args: unknown[], options: TaskOptions, mode: TaskMode): Future<unknown> {
    const scheduler = this.#scheduler;
    // A pool made at a module's top level is fine; starting its first worker from there
    // is not, in a child still importing that module (see checkNotBootstrapping).
    if (scheduler.workers === 0) checkNotBootstrapping(`worker ${this.workerKind}`);
    if (scheduler.broken) return failedFuture(scheduler.broken);
    if (scheduler.queued >= this.#maxQueue && scheduler.queuedLive() >= this.#maxQueue) {
      return failedFuture(new Full(`task queue is full: ${this.#maxQueue} tasks already wait for a worker (maxQueue)`));
    }
    let spec: FunctionSpec;
    try {
      spec = specOf(fn);
    } catch (err) {
      return failedFuture(err);
    }
    if (options.signal?.aborted) return failedFuture(options.signal.reason);
    if (mode === CALL && needsCrossing(args)) {
      try {
        refuseThreadOnly(args, spec);
        ({ args, options } = this.crossArgs(args, options));
      } catch (err) {
        return failedFuture(err);
      }
    }
    if (mode === CALL) {
      // The array is not kept (submit's is its own; the Pool face's is the caller's, read only here).
      if (args.length === 1) return scheduler.enqueue(spec, args[0], ONE_ARG, options);
      if (args.length === 0) args = NO_ARGS;
    }
    // A chunk of numbers crosses as their bytes (see transport/numbers.ts).
    if (mode === CHUNK_ITEMS) args = packNumbers(args) as unknown[];
    return scheduler.enqueue(spec, args, MODE_FLAGS[mode], options);
  }

  /**
   * @internal For the Pool face (pool-face/pool.ts): schedules `fn` straight on the
   * scheduler, without submit's naming or map's iterator. The face never hands the
   * Future out; it listens with a done callback. A call's `args` with one element is
   * read at once and not kept; a longer one is kept, so the face passes a copy.
   */
  _schedule(fn: TaskFunction, args: unknown[], mode: TaskMode): Future<unknown> & { sink?: unknown } {
    if (this.isShutdown) throw new Error(`cannot schedule new futures after shutdown (${this.constructor.name})`);
    return this.schedule(fn, args, NO_OPTIONS, mode);
  }

  /** @internal The chunk size `chunksize: 'auto'` gives `length` items (the Pool face's default). */
  _autoChunksize(length: number): number {
    return this.autoChunksize(length);
  }

  /**
   * @internal Shuts the pool down and stops its workers at once (multiprocessing.Pool's
   * terminate): what has not started is cancelled, what runs fails with `error`.
   */
  _terminate(error: unknown): Promise<void> {
    void this.shutdown({ wait: false });
    return this.#scheduler.terminate(error);
  }

  protected doShutdown(options: Required<ShutdownOptions>): Promise<void> {
    return this.#scheduler.shutdown(options.cancelFutures);
  }
}
