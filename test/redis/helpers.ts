/**
 * What the Redis tests share: the Redis they use ($REDIS_URL, else the local default),
 * whether it is there, a fresh queue per test (obliterated after), and the signing key.
 * Without a Redis the tests skip with one line saying how to run them, except under
 * CI=true, where a missing Redis fails the run.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { REPO } from '../fixtures/run-node.js';
import { own, real } from '../fixtures/source.js';

/** The Redis the tests use. */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** The key the tests' executors and workers share. */
export const KEY = 'test-key-0123456789abcdef';

/** The fixture task module, as a worker is given it. */
export const FIXTURE_TASKS = fileURLToPath(new URL(own('../fixtures/tasks.ts'), import.meta.url));
/** The fixture's path in the package, by which jobs and errors name it (its mirror's, from scripts/run-tests.mjs). */
export const FIXTURE_TASKS_NAME = relative(REPO, FIXTURE_TASKS);
/** The compiled task module, as a worker is given it. */
export const REDIS_TASKS_JS = real(new URL('../fixtures/redis-tasks.mjs', import.meta.url));

/** `text` as a regular expression that matches it literally. */
export const literally = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function ping(): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Undefined when Redis answers; otherwise why the tests skip. Under CI=true a missing Redis adds a failing test. */
export const skipReason: string | undefined = await (async () => {
  if (await ping()) return undefined;
  const why = `no Redis at ${REDIS_URL}: start one (redis-server) or set REDIS_URL to run the Redis tests`;
  if (process.env.CI === 'true') {
    it('Redis is reachable (CI=true requires it)', () => {
      throw new Error(why);
    });
  } else {
    process.stdout.write(`${why}\n`);
  }
  return why;
})();

/** A queue name no other test uses. */
export function uniqueQueue(tag = 't'): string {
  return `concur-test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Removes every key of `queue`. */
export async function obliterate(queue: string): Promise<void> {
  const q = new Queue(queue, { connection: { url: REDIS_URL } });
  q.on('error', () => {});
  try {
    await q.obliterate({ force: true });
  } finally {
    await q.close();
  }
}

/** Resolves when `check` holds, polling every `every` ms; rejects naming `what` after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000, every = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** The lines a task appended to `file` (none while it does not exist): marks of what ran where. */
export const marks = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

/** A fresh file path for a task's marks. */
export const tmpFile = (): string => join(mkdtempSync(join(tmpdir(), 'concur-redis-')), 'marks');

/**
 * Inside a describe: a queue of its own, served by a RedisWorker (two threads, the
 * fixtures' tasks) started before the suite's tests and closed, with its queue removed, after.
 */
export function servedQueue(tag: string): { queue: string; worker: () => RedisWorker } {
  const queue = uniqueQueue(tag);
  let worker: RedisWorker | undefined;
  before(async () => {
    worker = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [FIXTURE_TASKS, REDIS_TASKS_JS], pool: 'thread', workers: 2 });
  });
  after(async () => {
    await worker?.close();
    await obliterate(queue);
  });
  return { queue, worker: () => worker! };
}

/**
 * Submits redisTasks.ignoreStop (a task that never ends and heeds no abort) with a signal,
 * waits until it runs, aborts it, and sees its Future fail with the abort's reason; returns
 * its job's id (not the Future: awaiting a thenable would await its result).
 */
export async function abortWhileRunning(ex: RedisExecutor): Promise<string> {
  const file = tmpFile();
  const ac = new AbortController();
  const f = ex.submitWith({ signal: ac.signal }, redisTasks.ignoreStop, file);
  await until(() => marks(file).length === 1, 'the task to start');
  ac.abort(new Error('given up'));
  await assert.rejects(f.result(), /given up/);
  return f.jobId;
}


/**
 * Why the job `jobId` failed, from the queue's event stream (undefined while no failure
 * is there): the job itself is removed once its executor has read the outcome.
 */
export async function failedReason(jobs: Queue, jobId: string): Promise<string | undefined> {
  const redis = new Redis(REDIS_URL);
  let entries: [string, string[]][];
  try {
    entries = await redis.xrevrange(`${jobs.qualifiedName}:events`, '+', '-', 'COUNT', 10_000);
  } finally {
    redis.disconnect();
  }
  for (const [, fields] of entries) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    if (f.event === 'failed' && f.jobId === jobId) return f.failedReason;
  }
  return undefined;
}

/** A port on 127.0.0.1 that nothing listens on (it did a moment ago, then closed): for a Redis of a test's own, or one that never answers. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
