/**
 * With pool 'async' a job's task is a coroutine in the worker's thread, which nothing
 * can stop from outside: one that heeds no abort (its signal, its timeout) is abandoned
 * as asyncio abandons a task that swallows its cancellation. It must not keep its slot
 * (with one slot, no later job would run), nor hold close() for closeTimeout; the worker
 * counts it in stats().abandoned and warns of those still running when it closes.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { abortWhileRunning, failedReason, KEY, marks, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, tmpFile, uniqueQueue, until } from './helpers.js';

/** A one-slot async worker on a fresh queue, an executor for it, and a look at its jobs; all closed after `body`. */
async function withOneSlot(tag: string, body: (ex: RedisExecutor, w: RedisWorker, jobs: Queue) => Promise<void>): Promise<void> {
  const queue = uniqueQueue(tag);
  // closeTimeout far past what any test here waits: a close that waits for it fails the test.
  const w = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 1, closeTimeout: 20_000 });
  const jobs = new Queue(queue, { connection: { url: REDIS_URL } });
  jobs.on('error', () => {});
  try {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
    await body(ex, w, jobs);
  } finally {
    await w.close();
    await jobs.close();
    await obliterate(queue);
  }
}

describe('RedisWorker pool async: a coroutine that heeds no abort is abandoned, not waited for', { skip: skipReason }, () => {
  it("aborted by its executor while it runs: the worker's one slot runs the next job", { timeout: 30_000 }, async () => {
    await withOneSlot('abandon-abort', async (ex, w, jobs) => {
      const jobId = await abortWhileRunning(ex);
      await until(async () => (await failedReason(jobs, jobId)) !== undefined, 'the aborted job to fail');
      assert.equal(await ex.submit(redisTasks.inc, 1).result(10_000), 2);
      assert.equal(w.stats().abandoned, 1);
      assert.equal(w.stats().running, 0);
    });
  });

  it("past its timeout: the worker's one slot runs the next job", { timeout: 30_000 }, async () => {
    await withOneSlot('abandon-timeout', async (ex, w) => {
      const file = tmpFile();
      const f = ex.submitWith({ timeout: 300 }, redisTasks.ignoreStop, file);
      await assert.rejects(f.result(), /timed out after 300 ms/);
      assert.equal(marks(file).length, 1, 'the task ran');
      assert.equal(await ex.submit(redisTasks.inc, 1).result(10_000), 2);
      assert.equal(w.stats().abandoned, 1);
    });
  });

  it('close() does not wait for an abandoned coroutine, and warns that it still runs', { timeout: 30_000 }, async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      let tookMs = Infinity;
      await withOneSlot('abandon-close', async (ex, w) => {
        await abortWhileRunning(ex);
        await until(() => w.stats().abandoned === 1, 'the worker to abandon the task');
        const start = performance.now();
        await w.close();
        tookMs = performance.now() - start;
      });
      // closeTimeout is 20 s: this bound only tells a close that waited for it from one that did not.
      assert.ok(tookMs < 5000, `close() took ${Math.round(tookMs)} ms`);
      await until(() => warnings.some((w) => (w as { code?: string }).code === 'CONCUR_ABANDONED_COROUTINES'), 'the warning', 5000, 10);
      const warning = warnings.find((w) => (w as { code?: string }).code === 'CONCUR_ABANDONED_COROUTINES')!;
      assert.match(warning.message, /leaving in this thread 1 abandoned coroutine/);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
