/**
 * What the executor's sweep reads of a job's hash: a job waiting in the queue reads as
 * waiting, not as gone (which costs an EXISTS per job to disprove, every sweep).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readRecords } from '../../src/redis/records.js';
import { obliterate, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

describe('readRecords: what a job hash says', { skip: skipReason }, () => {
  it('a waiting job reads as waiting, a started one as started, a finished one as finished, a missing one as gone', async () => {
    const queue = uniqueQueue('records');
    const q = new Queue(queue, { connection: { url: REDIS_URL } });
    const redis = new Redis(REDIS_URL);
    try {
      await q.add('t', { x: 1 }, { jobId: 'waits' });
      await q.add('t', { x: 2 }, { jobId: 'starts' });
      await q.add('t', { x: 3 }, { jobId: 'ends' });
      await redis.hset(q.toKey('starts'), 'processedOn', String(Date.now()));
      await redis.hset(q.toKey('ends'), 'processedOn', String(Date.now()), 'finishedOn', String(Date.now()), 'returnvalue', '4');
      const kinds = (await readRecords(redis, ['waits', 'starts', 'ends', 'missing'].map((id) => q.toKey(id)))).map((r) => r?.kind);
      assert.deepEqual(kinds, ['waiting', 'started', 'finished', 'gone']);
    } finally {
      redis.disconnect();
      await q.close();
      await obliterate(queue);
    }
  });
});
