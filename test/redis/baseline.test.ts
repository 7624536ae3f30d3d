import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { tasks } from '../fixtures/tasks.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { FIXTURE_TASKS, KEY, marks, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, tmpFile, uniqueQueue, until } from './helpers.js';

/**
 * Keys of a queue that outlive its jobs, whatever their number: BullMQ writes them once
 * per queue (or per worker), not per job.
 */
const FIXED: Record<string, string> = {
  id: 'the job id counter (addJob counts every job, though ours bring their own ids)',
  meta: 'the queue settings hash (opts.maxLenEvents, version), written once',
  events: 'the event stream, capped by BullMQ near meta.opts.maxLenEvents (10,000) entries',
  marker: 'the wake-up marker for blocked workers, one per queue (present while jobs wait)',
  'stalled-check': "the stalled checker's throttle, with a TTL of its interval",
};
/** The lease of a live executor: one per executor, not per job, deleted at its shutdown. */
const isFixed = (k: string): boolean => k in FIXED || k.startsWith('concur-lease:');

/** The names (after `bull:<queue>:`) of the queue's keys. */
async function keysOf(redis: Redis, queue: string): Promise<Set<string>> {
  const prefix = `bull:${queue}:`;
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) found.add(k.slice(prefix.length));
  } while (cursor !== '0');
  return found;
}

/** Bytes the queue's keys take in Redis, its capped event stream apart (other clients of a shared Redis do not count). */
async function queueBytes(redis: Redis, queue: string): Promise<number> {
  let total = 0;
  for (const k of await keysOf(redis, queue)) if (k !== 'events') total += await sizeOf(redis, `bull:${queue}:${k}`);
  return total;
}
/** Bytes a key takes (0 when there is none). */
const sizeOf = async (redis: Redis, key: string): Promise<number> => Number((await redis.memory('USAGE', key)) ?? 0);

describe('Redis memory once the Futures are settled', { skip: skipReason }, () => {
  const queue = uniqueQueue('baseline');
  let worker: RedisWorker | undefined;
  const redis = new Redis(REDIS_URL);
  before(async () => {
    worker = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [FIXTURE_TASKS, REDIS_TASKS_JS], pool: 'thread', workers: 2 });
  });
  after(async () => {
    await worker?.close();
    await obliterate(queue);
    redis.disconnect();
  });

  it('the keys of the queue and the memory they take come back to what they were before, but for fixed keys', async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY, pollInterval: 200 });
    const beforeKeys = await keysOf(redis, queue);
    const memBefore = await queueBytes(redis, queue);

    // Aborted while it runs: withdrawn, its job and mark go once it ends.
    const file = tmpFile();
    const ac = new AbortController();
    const aborted = ex.submitWith({ signal: ac.signal }, redisTasks.note, file, 'abort', 300);
    await until(() => marks(file).length === 1, 'the task to abort to start');
    ac.abort(new Error('given up'));
    const ok = Array.from({ length: 2000 }, (_, i) => ex.submit(tasks.inc, i));
    const bad = Array.from({ length: 50 }, (_, i) => ex.submit(tasks.pay, i));
    const slow = Array.from({ length: 3 }, () => ex.submitWith({ timeout: 100 }, redisTasks.note, tmpFile(), 'slow', 5000));
    // The last ones wait behind the rest: once sent, cancel() takes them out of the queue.
    const late = Array.from({ length: 100 }, (_, i) => ex.submit(tasks.inc, i));
    await until(() => ex.stats().local === 0, 'every job to reach Redis');
    const cancelled = late.filter((f) => f.cancel()).length;
    assert.ok(cancelled > 0, 'some jobs were cancelled while they waited');

    assert.deepEqual(await Promise.all(ok.map((f) => f.result())), Array.from({ length: 2000 }, (_, i) => i + 1));
    for (const f of bad) assert.equal(((await f.exception()) as Error).name, 'PaymentError');
    for (const f of slow) assert.equal(((await f.exception()) as Error).name, 'TimeoutError');
    await assert.rejects(aborted.result(), /given up/);
    await Promise.all(late.map((f) => f.exception().catch(() => undefined)));

    let extra: string[] = [];
    try {
      await until(async () => {
        const now = await keysOf(redis, queue);
        extra = [...now].filter((k) => !beforeKeys.has(k) && !isFixed(k));
        return extra.length === 0;
      }, 'the jobs to leave Redis', 10_000);
    } catch {
      assert.fail(`${extra.length} keys of the queue are left, such as ${extra.slice(0, 5).join(', ')}`);
    }
    const memAfter = await queueBytes(redis, queue);
    // Their records took 2.7 MB (measured before the executor removed them); what may be
    // left is the fixed keys (a counter, a marker, a lease: a few hundred bytes).
    assert.ok(memAfter - memBefore < 64 * 1024, `the queue's keys grew by ${memAfter - memBefore} bytes (the events stream apart)`);
  });

  it('a job aborted while it runs leaves nothing once its executor has shut down, however soon after the abort', async () => {
    const ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
    const beforeKeys = await keysOf(redis, queue);
    const file = tmpFile();
    const ac = new AbortController();
    const f = ex.submitWith({ signal: ac.signal }, redisTasks.note, file, 'abort-then-shut-down', 3000);
    await until(() => marks(file).length === 1, 'the task to start');
    ac.abort(new Error('given up'));
    await assert.rejects(f.result(), /given up/);
    await ex.shutdown();
    const extra = [...(await keysOf(redis, queue))].filter((k) => !beforeKeys.has(k) && !isFixed(k));
    assert.deepEqual(extra, [], 'keys of the queue left by the aborted job');
  });
});
