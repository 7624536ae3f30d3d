/**
 * `concur worker` and `concur status`: the machine level from the shell. concur/redis is
 * imported only when one of them runs, so `concur map` never loads BullMQ.
 */
import { constants } from 'node:os';
import type { RedisWorker as Worker } from '../redis/worker.js';
import { UsageError } from './usage-error.js';

/** Options of `concur worker`, as parsed. */
export interface WorkerCommandOptions {
  redis?: string;
  queue: string;
  tasks: string[];
  pool: string;
  workers?: number;
  keyFile?: string;
  allowInline?: boolean;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalled?: number;
  closeTimeout?: number;
  name?: string;
}

/**
 * Serves the queue until SIGTERM or SIGINT, then stops taking jobs, lets the running ones
 * finish (up to --close-timeout) and resolves to 0. A second signal exits at once, with 128 + its number.
 */
export async function workerCommand(options: WorkerCommandOptions): Promise<number> {
  const { RedisWorker } = await import('../redis/index.js');
  let worker: Worker;
  try {
    worker = await RedisWorker.start({
      connection: options.redis,
      queue: options.queue,
      tasks: options.tasks,
      pool: options.pool as 'process',
      workers: options.workers,
      keyFile: options.keyFile,
      allowInline: options.allowInline === true,
      lockDuration: options.lockDuration,
      stalledInterval: options.stalledInterval,
      maxStalledCount: options.maxStalled,
      closeTimeout: options.closeTimeout,
      name: options.name,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const where = whereRedis(options.redis);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`concur worker: ${signal} again, exiting now\n`);
        process.exit(128 + constants.signals[signal]);
      }
      stopping = true;
      const running = worker.stats().running;
      process.stdout.write(`concur worker ${worker.name}: ${signal}: taking no more jobs; finishing ${running} running\n`);
      void worker.close().then(
        () => {
          process.stdout.write(`concur worker ${worker.name}: closed\n`);
          resolve(0);
        },
        (err: unknown) => {
          process.stderr.write(`concur worker: closing failed: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // Said once the signals are ours: a supervisor that stops the worker as soon as it
    // reads this line would otherwise find Node's default action, and kill it mid-fetch.
    process.stdout.write(
      `concur worker ${worker.name}: serving queue ${options.queue} on ${shown(where)} ` +
        `with ${worker.concurrency} ${options.pool} worker(s); tasks: ${worker.tasks.join(', ')}\n`,
    );
    void worker.closed.then(() => {
      if (worker.broken === undefined) return;
      process.stderr.write(`concur worker ${worker.name}: its pool is broken, so it stopped taking jobs: ${worker.broken.message}\n`);
      resolve(1);
    });
  });
}

/**
 * How long `concur status` waits for Redis's answers. CONCUR_TEST_STATUS_TIMEOUT_MS sets
 * another (a test seam: test/cli/status.test.ts waits for this bound to pass, not 10 s).
 */
const STATUS_TIMEOUT_MS = Number(process.env.CONCUR_TEST_STATUS_TIMEOUT_MS) > 0 ? Number(process.env.CONCUR_TEST_STATUS_TIMEOUT_MS) : 10_000;

/** The Redis a command uses: --redis, else $REDIS_URL, else the local default. */
const whereRedis = (redis: string | undefined): string => redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Redis URL as printed: its password masked. */
const shown = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

/** Prints a queue's job counts and connected workers; `json` prints them as one JSON line. */
export async function statusCommand(options: { redis?: string; queue: string; json?: boolean }): Promise<number> {
  const [{ redisQueueStatus }, { checkQueueName, resolveConnection }] = await Promise.all([import('../redis/index.js'), import('../redis/connection.js')]);
  // What `concur worker` refuses as a usage error is one here too (exit 2).
  try {
    checkQueueName(options.queue, 'status');
    resolveConnection(options.redis, 'status');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let status: Awaited<ReturnType<typeof redisQueueStatus>>;
  // A server that takes the connection and never answers (a stuck Redis, a port that is
  // not Redis's) would hold the command for ever: a status says so and ends instead.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis at ${shown(whereRedis(options.redis))} within ${STATUS_TIMEOUT_MS} ms`)), STATUS_TIMEOUT_MS);
  });
  try {
    status = await Promise.race([redisQueueStatus({ connection: options.redis, queue: options.queue }), late]);
  } catch (err) {
    // A database index the server does not have: the URL is wrong, as for the worker.
    if (err instanceof RangeError) throw new UsageError((err as Error).message);
    process.stderr.write(`concur status: ${(err as Error).message}\n`);
    return 1;
  } finally {
    clearTimeout(timer);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(status)}\n`);
    return 0;
  }
  const lines = [`queue ${status.queue}`];
  for (const [state, n] of Object.entries(status.counts)) lines.push(`  ${state.padEnd(12)}${n}`);
  lines.push(`  workers     ${status.workers.length}${status.workers.length > 0 ? `: ${status.workers.join(', ')}` : ''}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
