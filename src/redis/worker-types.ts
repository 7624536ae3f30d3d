/** The options and stats of a RedisWorker. */
import type { PoolStats } from '../pool/pool-types.js';
import type { RedisConnection } from './connection.js';
import type { KeyOptions } from './wire.js';

/** Where a worker runs its jobs. */
export type RedisPoolKind = 'process' | 'thread' | 'async';

/** Options of `RedisWorker.start`. */
export interface RedisWorkerOptions extends KeyOptions {
  /** The Redis: a URL or ioredis options. @default $REDIS_URL, else redis://127.0.0.1:6379 */
  connection?: RedisConnection;
  /** The queue to serve. */
  queue: string;
  /** Task modules (paths from the working directory, or file URLs); a job's task must be defined in one. */
  tasks: string[];
  /** Where jobs run: a process pool (default), a thread pool, or coroutines in this thread. */
  pool?: RedisPoolKind;
  /** Jobs run at once (pool workers, or coroutines for 'async'). @default one per CPU (64 for 'async'), as `concur map` */
  workers?: number;
  /** Run inline (self-contained, non-defineTasks) functions sent as source. @default false */
  allowInline?: boolean;
  /** BullMQ's key prefix. @default 'bull' */
  prefix?: string;
  /** Milliseconds a job's lock lasts without renewal (renewed every half of it). @default 5000 */
  lockDuration?: number;
  /** Milliseconds between checks for jobs whose worker died (their lock expired). @default 1000 */
  stalledInterval?: number;
  /** Times a job may lose its worker and run again before it fails with WorkerCrashedError. @default 1 */
  maxStalledCount?: number;
  /** Milliseconds `close()` lets running jobs finish; past it they are left to run again elsewhere. @default 30000 */
  closeTimeout?: number;
  /** This worker's name, in job records and error messages. @default host:pid */
  name?: string;
  /** Milliseconds `start` waits to reach Redis before it fails. @default 10000 */
  startTimeout?: number;
}

/** A live snapshot of a RedisWorker. */
export interface RedisWorkerStats {
  /** Jobs running now. */
  running: number;
  /** Jobs that finished with a result. */
  completed: number;
  /** Jobs that failed (their task's error, a timeout, a crash, a refusal). */
  failed: number;
  /** The local pool's own counters (absent for 'async'). */
  pool: PoolStats | undefined;
  /**
   * With pool 'async': coroutines of jobs that were aborted or timed out and still run,
   * heeding no taskSignal(); their jobs have failed and their slots run other jobs. 0 otherwise.
   */
  abandoned: number;
}

/** The option names `RedisWorker.start` knows. */
export const KNOWN = new Set([
  'connection',
  'queue',
  'tasks',
  'pool',
  'workers',
  'allowInline',
  'prefix',
  'lockDuration',
  'stalledInterval',
  'maxStalledCount',
  'closeTimeout',
  'name',
  'startTimeout',
  'key',
  'keyFile',
]);
