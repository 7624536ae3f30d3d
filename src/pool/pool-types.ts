/** What a pool and its subclasses agree on: the options, the stats, the events, and a worker's handle. */
import type { TransferListItem } from 'node:worker_threads';
import { checkInteger, type TaskFunction } from '../futures/executor.js';
import { checkTimeout, describe } from '../futures/future.js';
import { crossesAlone, nestedAlone, threadOnlyQueue } from '../transport/nested.js';

/** Options every pool takes. */
export interface PoolOptions {
  /** Most workers at once. @default os.availableParallelism() */
  maxWorkers?: number;
  /** Runs in each worker before its first task (a defineTasks task or a self-contained function). */
  initializer?: TaskFunction;
  /** Arguments for `initializer`. @default [] */
  initargs?: unknown[];
  /** Replace a worker after it has run this many tasks. @default unlimited */
  maxTasksPerWorker?: number;
  /** Stop a worker that has been idle this many milliseconds. @default never */
  idleTimeout?: number;
  /** Most tasks waiting to be sent to a worker; past it `submit` returns a Future failed with `Full`. @default unlimited */
  maxQueue?: number;
}

/** Latency percentiles in microseconds. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** A live snapshot of a pool. */
export interface PoolStats {
  /** Workers alive or starting. */
  workers: number;
  /** Workers holding at least one task. */
  busy: number;
  /** Ready workers with nothing to do. */
  idle: number;
  /** Tasks waiting to be sent to a worker. */
  queued: number;
  /** Tasks that finished with a result. */
  completed: number;
  /** Tasks that finished with an error (their own, a crash, a timeout or an abort). */
  failed: number;
  /** From dispatch to result, in microseconds. */
  runTime: Percentiles;
  /** From submit to dispatch, in microseconds. */
  waitTime: Percentiles;
}

/** What a pool reports as it runs. */
export interface PoolEvents {
  /** A worker finished starting (and its initializer) and takes tasks. */
  workerReady: [info: { workerId: number }];
  /** A worker ended: `expected` is false for a crash. */
  workerExit: [info: { workerId: number; code: number | null; signal: string | null; expected: boolean }];
}

/** The pool's side of one worker. */
export interface WorkerHandle {
  /** Posts one message; throws when it cannot be cloned. */
  post(message: unknown[], transfer: TransferListItem[] | undefined): void;
  /** Takes the worker's next message without the event loop, where the channel allows it. */
  poll?: () => unknown[] | undefined;
  /** Stops the worker at once, whatever it runs; `exit` follows. */
  terminate(): void;
  /**
   * Asks an idle worker to end as a program does once its main code is done: after the
   * non-daemon children its tasks started (daemon ones are stopped); `exit` follows.
   * Absent: the worker is terminated.
   */
  stop?: () => void;
  ref(): void;
  unref(): void;
}

/** What a worker reports to its pool. */
export interface WorkerEvents {
  message(message: unknown[]): void;
  error(error: unknown): void;
  exit(code: number | null, signal: string | null): void;
}

const KNOWN_OPTIONS = new Set(['maxWorkers', 'initializer', 'initargs', 'maxTasksPerWorker', 'idleTimeout', 'maxQueue']);

/** Checks the options every pool shares; `extra` names the subclass's own. */
/** A pool's options as given: an object, or Python's positional worker count (`ThreadPoolExecutor(4)`). */
export function asPoolOptions<O extends PoolOptions>(given: O | number): O {
  return typeof given === 'number' ? ({ maxWorkers: given } as O) : given;
}

export function checkPoolOptions(options: PoolOptions, extra: readonly string[], poolName: string): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${poolName} options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key) && !extra.includes(key)) throw new TypeError(`${poolName}: unknown option "${key}"`);
  }
  checkInteger('maxWorkers', options.maxWorkers, 1);
  checkInteger('maxTasksPerWorker', options.maxTasksPerWorker, 1);
  checkTimeout(options.idleTimeout, 'idleTimeout');
  if (options.maxQueue !== Infinity) checkInteger('maxQueue', options.maxQueue, 1);
  if (options.initializer !== undefined && typeof options.initializer !== 'function') {
    throw new TypeError(`initializer must be a function, got ${describe(options.initializer)}`);
  }
  if (options.initargs !== undefined && !Array.isArray(options.initargs)) {
    throw new TypeError(`initargs must be an array, got ${describe(options.initargs)}`);
  }
  options.initargs?.forEach(checkInitarg);
}

/**
 * initargs are copied into each worker as it starts, as plain data: a primitive, a proxy
 * or a Pipe end there would arrive without its methods, so it is refused up front.
 */
function checkInitarg(arg: unknown, i: number): void {
  const top = crossesAlone(arg) ?? threadOnlyQueue(arg)?.what;
  const nested = top === undefined ? nestedAlone(arg) : undefined;
  const what = top ?? nested?.what;
  if (what === undefined) return;
  throw new TypeError(
    `initargs[${i}]${nested?.path ?? ''} (${what}) cannot reach the workers: initargs are copied into each worker as plain data, where it would arrive without its methods. Pass it in the arguments of the tasks that use it`,
  );
}
