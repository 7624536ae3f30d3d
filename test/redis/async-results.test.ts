/**
 * With pool 'async' a worker calls a loaded task in the job's own turn and encodes a
 * primitive result at once, with no turn of its own: what comes back must be what the
 * other pools give, the first time a task runs (while it loads) and every time after,
 * for a result, a thrown error, an awaited result, and one that cannot be sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tasks, PaymentError } from '../fixtures/tasks.js';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { FIXTURE_TASKS, KEY, obliterate, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

describe("RedisWorker pool async: a task's outcome, called in its job's turn", { skip: skipReason }, () => {
  const queue = uniqueQueue('async-results');
  let worker: RedisWorker | undefined;
  let ex: RedisExecutor | undefined;
  before(async () => {
    worker = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [FIXTURE_TASKS], pool: 'async', workers: 2 });
    ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
  });
  after(async () => {
    await ex?.shutdown();
    await worker?.close();
    await obliterate(queue);
  });

  /** The outcome of running `run` twice, one after the other: the first loads the task, the second finds it loaded. */
  async function twice<T>(run: () => Promise<T>): Promise<PromiseSettledResult<T>[]> {
    const first = await Promise.allSettled([run()]);
    const second = await Promise.allSettled([run()]);
    return [...first, ...second];
  }

  it('a result, the first time and after', { timeout: 30_000 }, async () => {
    const [a, b] = await twice(() => ex!.submit(tasks.add, 2, 3).result());
    assert.deepEqual([a, b], [{ status: 'fulfilled', value: 5 }, { status: 'fulfilled', value: 5 }]);
  });

  it('an error the task throws, as it was thrown, the first time and after', { timeout: 30_000 }, async () => {
    for (const r of await twice(() => ex!.submit(tasks.pay, 12).result())) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason;
      assert.ok(err instanceof PaymentError || (err as Error).name === 'PaymentError', String(err));
      assert.equal((err as PaymentError).code, 'DECLINED');
      assert.match((err as Error).message, /card declined for 12/);
    }
    for (const r of await twice(() => ex!.submit(tasks.throwString).result())) {
      assert.deepEqual(r, { status: 'rejected', reason: 'plain string' });
    }
  });

  it('a result the task awaits, sent as a structured clone', { timeout: 30_000 }, async () => {
    const value = { at: new Date(0), tags: new Set(['a']) };
    for (const r of await twice(() => ex!.submit(tasks.sleepy, 5, value).result())) assert.deepEqual(r, { status: 'fulfilled', value });
  });

  it('a result that cannot be sent fails its own job, and the worker goes on', { timeout: 30_000 }, async () => {
    for (const r of await twice(() => ex!.submit(tasks.returnFunction).result())) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), /the result of task returnFunction cannot be sent through Redis/);
    }
    assert.equal(await ex!.submit(tasks.inc, 1).result(), 2);
    assert.equal(worker!.stats().running, 0);
  });
});
