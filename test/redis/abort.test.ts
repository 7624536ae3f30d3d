/**
 * A job aborted while its task runs is stopped where it runs: it fails in Redis as
 * aborted at once, not when its task ends, and a pool's slot is free again (a coroutine
 * cannot be stopped, only abandoned: it gives up its slot all the same).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { RedisExecutor, RedisWorker, type RedisPoolKind } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { abortWhileRunning, failedReason, KEY, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, uniqueQueue, until } from './helpers.js';

describe('RedisWorker: an aborted running job', { skip: skipReason }, () => {
  for (const pool of ['async', 'thread'] as RedisPoolKind[]) {
    it(`fails as aborted while its task still runs (pool ${pool}), and the worker's one slot runs the next job`, async () => {
      const queue = uniqueQueue(`abort-${pool}`);
      const w = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [REDIS_TASKS_JS], pool, workers: 1, closeTimeout: 1000 });
      const jobs = new Queue(queue, { connection: { url: REDIS_URL } });
      try {
        await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
        const jobId = await abortWhileRunning(ex);
        // The task never ends: its job fails only if the abort reached it.
        await until(async () => (await failedReason(jobs, jobId)) !== undefined, 'the aborted job to fail');
        assert.match((await failedReason(jobs, jobId))!, /aborted by its executor/);
        assert.equal(await ex.submit(redisTasks.inc, 1).result(20_000), 2);
      } finally {
        await w.close();
        await jobs.close();
        await obliterate(queue);
      }
    });
  }
});

describe('RedisExecutor: one AbortSignal shared by many jobs', { skip: skipReason }, () => {
  it('50 jobs under one signal print no MaxListenersExceededWarning; and aborting it fails every job still pending', async () => {
    const queue = uniqueQueue('shared-signal');
    const seen: string[] = [];
    const onWarning = (w: Error): void => void (w.name === 'MaxListenersExceededWarning' && seen.push(w.message));
    process.on('warning', onWarning);
    const w = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 1, closeTimeout: 1000 });
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const ac = new AbortController();
      const done = await Promise.all(Array.from({ length: 50 }, (_, i) => ex.submitWith({ signal: ac.signal }, redisTasks.inc, i).result(20_000)));
      assert.deepEqual(done, Array.from({ length: 50 }, (_, i) => i + 1));
      // Not yet taken (the worker is stopped first): every one of them fails with the reason.
      await w.close();
      const pending = Array.from({ length: 50 }, (_, i) => ex.submitWith({ signal: ac.signal }, redisTasks.inc, i));
      ac.abort(new Error('all stop'));
      const settled = await Promise.allSettled(pending.map((f) => f.result(20_000)));
      assert.ok(settled.every((s) => s.status === 'rejected'), 'every pending job failed');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(seen, []);
    } finally {
      process.off('warning', onWarning);
      await w.close();
      await obliterate(queue);
    }
  });
});
