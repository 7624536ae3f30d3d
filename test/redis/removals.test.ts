// The removal of settled jobs when the other side is still at work: a job whose lock is
// held (a second run of an at-least-once job going on elsewhere) is refused; it must stay,
// with its withdrawn mark, and go once the lock is gone. A finished job goes with all its
// keys and writes nothing to the event stream, which every executor on the queue reads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Removals } from '../../src/redis/removals.js';
import { obliterate, REDIS_URL, skipReason, uniqueQueue, until } from './helpers.js';

describe('Removals', { skip: skipReason }, () => {
  it('a job still locked is left, with its mark, and removed once its lock is gone; one never unlocked is left to the backstop', async () => {
    const name = uniqueQueue('removals');
    const queue = new Queue(name, { connection: { url: REDIS_URL } });
    const redis = new Redis(REDIS_URL);
    const mark = (id: string): string => `bull:${name}:test-mark:${id}`;
    const removals = new Removals(queue, redis, mark);
    try {
      for (const id of ['free', 'locked', 'stuck']) await queue.add('t', {}, { jobId: id });
      await redis.set(`bull:${name}:locked:lock`, 'another-worker');
      await redis.set(`bull:${name}:stuck:lock`, 'another-worker');
      await redis.set(mark('locked'), '1');
      removals.withdraw('locked');
      for (const id of ['free', 'locked', 'stuck']) removals.forget(id);
      const exists = async (id: string): Promise<boolean> => (await redis.exists(`bull:${name}:${id}`)) === 1;
      await until(async () => !(await exists('free')), 'the free job to be removed');
      assert.equal(await exists('locked'), true, 'a locked job is not removed');
      assert.equal(await redis.exists(mark('locked')), 1, 'nor is its withdrawn mark');
      assert.equal(removals.withdrawn('locked'), true);
      await redis.del(`bull:${name}:locked:lock`);
      await until(async () => !(await exists('locked')), 'the job to be removed once unlocked');
      await until(async () => (await redis.exists(mark('locked'))) === 0, 'its mark to go with it');
      // Refused every time: given up after its tries, left to keepFinished's age removal.
      await until(() => !removals.withdrawn('stuck') && removals.due === 0, 'the stuck job to be given up', 10_000);
      assert.equal(await exists('stuck'), true);
    } finally {
      await removals.close();
      redis.disconnect();
      await queue.close();
      await obliterate(name);
    }
  });

  it('finished jobs, completed and failed, go with their keys and leave no event on the stream; a job back in the queue is removed as well', async () => {
    const name = uniqueQueue('removals-lean');
    const queue = new Queue(name, { connection: { url: REDIS_URL } });
    const redis = new Redis(REDIS_URL);
    const removals = new Removals(queue, redis, (id) => `bull:${name}:test-mark:${id}`);
    const worker = new Worker(
      name,
      async (job) => {
        if (job.data.fail === true) throw new Error('no');
        return 1;
      },
      { connection: { url: REDIS_URL, maxRetriesPerRequest: null } },
    );
    try {
      await queue.add('t', {}, { jobId: 'ok' });
      await queue.add('t', { fail: true }, { jobId: 'bad' });
      await until(async () => JSON.stringify(await queue.getJobCounts('completed', 'failed')) === '{"completed":1,"failed":1}', 'both jobs to finish');
      await worker.close();
      await queue.add('t', {}, { jobId: 'waits' });
      const eventsKey = `bull:${name}:events`;
      const last = ((await redis.xrevrange(eventsKey, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>)[0]![0];
      for (const id of ['ok', 'bad', 'waits']) removals.forget(id);
      const exists = async (id: string): Promise<boolean> => (await redis.exists(`bull:${name}:${id}`)) === 1;
      await until(async () => !(await exists('ok')) && !(await exists('bad')) && !(await exists('waits')), 'the jobs to be removed');
      assert.equal(removals.due, 0);
      assert.equal(await redis.zcard(`bull:${name}:completed`), 0);
      assert.equal(await redis.zcard(`bull:${name}:failed`), 0);
      assert.equal(await redis.llen(`bull:${name}:wait`), 0, 'the waiting job left the wait list');
      const after = (await redis.xrange(eventsKey, `(${last}`, '+')) as Array<[string, string[]]>;
      const removed = after.filter(([, f]) => f[1] === 'removed').map(([, f]) => f[3]);
      assert.deepEqual(removed, ['waits'], 'only the job that had not finished goes by BullMQ\'s removal, with its event');
    } finally {
      await worker.close();
      await removals.close();
      redis.disconnect();
      await queue.close();
      await obliterate(name);
    }
  });
});
