/**
 * The executor's lease: the key workers read to know whether to wait for its word. It
 * lives as long as the executor (renewed), and goes with its shutdown, so a worker holding
 * a job of an executor that shut down goes on at once rather than after the lease's TTL.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { executorOf, leaseKey } from '../../src/redis/events.js';
import { tasks } from '../fixtures/tasks.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { servedQueue, KEY, marks, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, tmpFile, until, uniqueQueue } from './helpers.js';

describe("RedisExecutor's lease", { skip: skipReason }, () => {
  const { queue } = servedQueue('lease');

  it('exists while the executor lives (renewed past its TTL) and is gone after its shutdown', async () => {
    const leaseMs = 2000;
    const redis = new Redis(REDIS_URL);
    try {
      const ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY, leaseMs });
      const f = ex.submit(tasks.inc, 1);
      const key = leaseKey('bull', queue, executorOf(f.jobId));
      assert.equal(await f, 2); // the job went out: the lease was set before
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= leaseMs, `PTTL ${ttl}`);
      // Twice its TTL later it is still there: renewed.
      await new Promise((r) => setTimeout(r, 2 * leaseMs + 200));
      assert.equal(await redis.exists(key), 1, 'the lease expired while its executor lived');
      await ex.shutdown();
      assert.equal(await redis.exists(key), 0, 'the lease outlived the shutdown');
    } finally {
      redis.disconnect();
    }
  });

  it('found gone at a renewal (evicted, or lost with a restart or a failover), its sent Futures go RUNNING', async () => {
    const q = uniqueQueue('lease-lost');
    const file = tmpFile();
    const jobs = new Queue(q, { connection: { url: REDIS_URL } });
    const redis = new Redis(REDIS_URL);
    const ex = new RedisExecutor({ connection: REDIS_URL, queue: q, key: KEY, leaseMs: 3000 });
    let w: RedisWorker | undefined;
    try {
      const f = ex.submit(redisTasks.note, file, 'ran', 0);
      const key = leaseKey('bull', q, executorOf(f.jobId));
      await until(async () => (await jobs.getJob(f.jobId)) !== undefined, 'the job to reach Redis');
      assert.equal(f.state, 'PENDING');
      // Redis loses the key while the executor's clock says it lives: from now on a worker
      // holding the job goes on without a word, so the Future may be running.
      await redis.del(key);
      // The next renewal (a second at most) finds it gone. No worker serves the queue, and
      // the executor's own clock never lapses (renewed every second): only that can do it.
      await until(() => f.state === 'RUNNING', 'the Future to go RUNNING (it stayed PENDING though its job may have started)', 10_000);
      assert.equal(await redis.exists(key), 1, 'renewed');
      assert.equal(f.cancel(), false);
      w = await RedisWorker.start({ connection: REDIS_URL, queue: q, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 1 });
      await f;
      assert.equal(marks(file).length, 1);
    } finally {
      await ex.shutdown({ cancelFutures: true });
      await w?.close();
      await jobs.close();
      redis.disconnect();
      await obliterate(q);
    }
  });

  it('gone with a clean shutdown, it lets a worker holding a job of that executor go on at once, not after the TTL', async () => {
    const q = uniqueQueue('lease-gone');
    const file = tmpFile();
    const jobs = new Queue(q, { connection: { url: REDIS_URL } });
    let w: RedisWorker | undefined;
    try {
      // A job of an executor that has shut down, left in the queue: its copy, made while it
      // waited (nobody served the queue), put back after the shutdown removed the original.
      const ex = new RedisExecutor({ connection: REDIS_URL, queue: q, key: KEY, leaseMs: 60_000 });
      const f = ex.submit(redisTasks.note, file, 'ran', 0);
      await until(async () => (await jobs.getJob(f.jobId)) !== undefined, 'the job to reach Redis');
      const job = (await jobs.getJob(f.jobId))!;
      assert.equal(f.cancel(), true); // removes the waiting job: no withdrawn mark
      await ex.shutdown();
      await jobs.add(job.name, job.data, { jobId: f.jobId });
      const at = performance.now();
      w = await RedisWorker.start({ connection: REDIS_URL, queue: q, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 1 });
      // Nobody answers it: with the lease still there it would wait 60 s.
      await until(async () => (await jobs.getJob(f.jobId))?.finishedOn !== undefined, 'the job to run', 15_000);
      assert.equal((await jobs.getJob(f.jobId))!.failedReason, undefined);
      assert.equal(marks(file).length, 1);
      assert.ok(performance.now() - at < 15_000);
    } finally {
      await w?.close();
      await jobs.close();
      await obliterate(q);
    }
  });
});
