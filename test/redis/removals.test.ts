// The removal of settled jobs when the other side is still at work: a job whose lock is
// held (a second run of an at-least-once job going on elsewhere) is refused by BullMQ's
// removeJob; it must stay, with its withdrawn mark, and go once the lock is gone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
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
});
