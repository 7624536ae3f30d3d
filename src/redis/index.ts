/**
 * concur/redis: the machine level. Executors and workers on any number of machines,
 * through a Redis queue (BullMQ). A separate entry point, so that a program which only
 * uses the local levels never loads BullMQ or ioredis.
 */
import '../index.js'; // one shared chunk for the whole library (see scripts/bundle.mjs)
export { RedisExecutor, RedisFuture, type RedisExecutorOptions, type RedisTaskOptions, type RedisExecutorStats } from './executor.js';
export { RedisWorker, type RedisWorkerOptions, type RedisWorkerStats, type RedisPoolKind } from './worker.js';
export type { RedisConnection } from './connection.js';
export { redisQueueStatus, type RedisQueueStatus } from './status.js';
export { FORMAT as REDIS_FORMAT_VERSION } from './wire.js';
