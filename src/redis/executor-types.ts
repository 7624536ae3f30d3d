/** The options, stats and Future of a RedisExecutor. */
import { checkInteger, type TaskOptions } from '../futures/executor.js';
import { checkTimeout, describe, Future } from '../futures/future.js';
import type { Percentiles } from '../pool/pool-types.js';
import type { TaskMode } from '../futures/task-mode.js';
import { checkQueueName, resolveConnection, type RedisConnection } from './connection.js';
import { LEASE_MIN } from './lease.js';
import { portableName, type PortableTask } from './names.js';
import { loadKey, type KeyOptions } from './wire.js';

/** Options of a RedisExecutor. */
export interface RedisExecutorOptions extends KeyOptions {
  /** The Redis: a URL or ioredis options. @default $REDIS_URL, else redis://127.0.0.1:6379 */
  connection?: RedisConnection;
  /** The BullMQ queue its workers serve. */
  queue: string;
  /** BullMQ's key prefix. @default 'bull' */
  prefix?: string;
  /** Seconds a finished job stays in Redis at most, if this executor does not remove it first (it dies, or misses its end). @default 3600 */
  keepFinished?: number;
  /** Milliseconds between reads of unfinished jobs' states, in case an event was missed. @default 2000 */
  pollInterval?: number;
  /**
   * Milliseconds the executor's lease in Redis lasts without renewal (renewed every third
   * of it). A worker holding one of its jobs waits for its word while the lease lives, and
   * goes on without it once the lease is gone; the executor, cut off from Redis for two
   * thirds of it, sets its sent Futures RUNNING. At least 1000. @default 10000
   */
  leaseMs?: number;
  /** @internal Tests: listen to no events, so that every result comes through the sweep (and hold no lease: workers go on without a word). */
  _noEvents?: boolean;
}

const KNOWN = new Set(['connection', 'queue', 'prefix', 'keepFinished', 'pollInterval', 'leaseMs', 'key', 'keyFile', '_noEvents']);

/** The options of a RedisExecutor, checked, with their defaults filled in and its key loaded. */
export function readOptions(options: RedisExecutorOptions): {
  queue: string;
  connection: RedisConnection;
  prefix: string;
  keepFinished: number;
  pollInterval: number;
  leaseMs: number;
  key: Buffer;
} {
  if (options === null || typeof options !== 'object') throw new TypeError(`RedisExecutor options must be an object, got ${describe(options)}`);
  for (const k of Object.keys(options)) if (!KNOWN.has(k)) throw new TypeError(`RedisExecutor: unknown option "${k}"`);
  const queue = checkQueueName(options.queue, 'RedisExecutor');
  const connection = resolveConnection(options.connection, 'RedisExecutor');
  const prefix = options.prefix ?? 'bull';
  if (typeof prefix !== 'string' || prefix === '') throw new TypeError(`RedisExecutor: prefix must be a non-empty string, got ${describe(options.prefix)}`);
  checkInteger('keepFinished', options.keepFinished, 1);
  checkTimeout(options.pollInterval, 'pollInterval');
  const leaseMs: unknown = options.leaseMs === undefined ? 10_000 : options.leaseMs;
  if (typeof leaseMs !== 'number' || !Number.isInteger(leaseMs) || leaseMs < LEASE_MIN) {
    throw new RangeError(`RedisExecutor: leaseMs must be an integer number of milliseconds >= ${LEASE_MIN}, got ${describe(options.leaseMs)}`);
  }
  const key = loadKey(options, 'RedisExecutor');
  return { queue, connection, prefix, keepFinished: options.keepFinished ?? 3600, pollInterval: Math.max(50, options.pollInterval ?? 2000), leaseMs, key };
}

/** Per-task options of a RedisExecutor: those of every executor, and a BullMQ priority. */
export interface RedisTaskOptions extends TaskOptions {
  /** 1 (first) to 2,097,151 (last); jobs without one go before all prioritized jobs. */
  priority?: number;
}

/** A live snapshot of a RedisExecutor. */
export interface RedisExecutorStats {
  /** Futures not yet sent to Redis. */
  local: number;
  /** Jobs in Redis that no worker has started. */
  waiting: number;
  /** Jobs a worker runs now. */
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** From submit to result, in microseconds. */
  latency: Percentiles;
}

/** A Future whose task is a job in Redis; `cancel()` also removes the waiting job. */
export class RedisFuture<T = unknown> extends Future<T> {
  /** Its id in Redis: its BullMQ job's, or, when it went in a pack of tiny tasks, its own within the pack. */
  readonly jobId: string;
  readonly #onCancel: (f: RedisFuture<T>) => void;
  readonly #beforeCancel: () => void;

  /**
   * @internal Made by RedisExecutor. `beforeCancel` lets it set the Future RUNNING first
   * when its task may have started (its lease may have lapsed, whatever its timers said).
   */
  constructor(jobId: string, onCancel: (f: RedisFuture<T>) => void, beforeCancel: () => void = () => {}) {
    super();
    this.jobId = jobId;
    this.#onCancel = onCancel;
    this.#beforeCancel = beforeCancel;
  }

  override cancel(): boolean {
    if (this.state === 'PENDING') this.#beforeCancel();
    const wasPending = this.state === 'PENDING';
    const cancelled = super.cancel();
    if (cancelled && wasPending) this.#onCancel(this);
    return cancelled;
  }
}

/** A job's state in its executor: not sent to Redis yet. */
export const LOCAL = 0;
/** A job's state in its executor: sent, not known to have started. */
export const SENT = 1;
/** A job's state in its executor: known to have started (its Future RUNNING). */
export const ACTIVE = 2;

/** What the executor keeps of a job until its Future is done. */
export interface Entry {
  readonly id: string;
  readonly future: RedisFuture<unknown>;
  readonly task: string;
  /** What its job is made of, until it is sent (in a pack: until the pack ends, in case it is sent again alone). */
  job: { task: PortableTask; mode: TaskMode; args: string; timeout: number | null; opts: Record<string, unknown> } | undefined;
  /** The BullMQ job that carries it: its own (`id`), or its pack's. */
  jobId: string;
  /** Its task and mode, the key under which TaskTimes learns how long it runs. */
  readonly times: string;
  /** True when it has no options of its own (timeout, retries, priority, signal), so that it may go in a pack; false once its pack failed. */
  packable: boolean;
  state: typeof LOCAL | typeof SENT | typeof ACTIVE;
  /** True once addBulk has answered: a missing hash means the job is gone, not on its way. */
  added: boolean;
  readonly submittedAt: number;
  /** When the sweep last read its job (at first, its submission). */
  checkedAt: number;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** How many of `entries` are not sent yet, wait in Redis, and run. */
export function countEntries(entries: Iterable<Entry>): { local: number; waiting: number; running: number } {
  let local = 0;
  let waiting = 0;
  let running = 0;
  for (const e of entries) {
    if (e.state === LOCAL) local++;
    else if (e.future.state === 'RUNNING') running++;
    else waiting++;
  }
  return { local, waiting, running };
}

/** The entry of a new Future `future` (job id `id`) whose job runs `task` on `args` (encoded), LOCAL until sent. */
export function newEntry(
  id: string,
  future: RedisFuture<unknown>,
  task: PortableTask,
  mode: TaskMode,
  args: string,
  options: RedisTaskOptions,
  keepFinished: number,
): Entry {
  const opts: Record<string, unknown> = {
    jobId: id,
    attempts: (options.retries ?? 0) + 1,
    removeOnComplete: { age: keepFinished },
    removeOnFail: { age: keepFinished },
  };
  if (options.priority !== undefined) opts.priority = options.priority;
  const name = portableName(task);
  const now = performance.now();
  return {
    id,
    jobId: id,
    future,
    task: name,
    job: { task, mode, args, timeout: options.timeout ?? null, opts },
    times: `${mode} ${name}`,
    packable: options.signal === undefined && options.timeout === undefined && (options.retries ?? 0) === 0 && options.priority === undefined,
    state: LOCAL,
    added: false,
    submittedAt: now,
    checkedAt: now,
    signal: options.signal,
    onAbort: undefined,
  };
}
