/**
 * What the executor's sweep reads of a job's hash: a job waiting in the queue reads as
 * waiting, not as gone (which costs an EXISTS per job to disprove, every sweep); and what
 * it does when Redis fails it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Redis as RedisClient } from 'ioredis';
import type { Entry } from '../../src/redis/executor-types.js';
import type { PackBook } from '../../src/redis/pack-book.js';
import { readRecords } from '../../src/redis/records.js';
import { Sweeper } from '../../src/redis/sweep.js';
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

describe('the sweep, when Redis fails it', () => {
  it('a job read as gone whose second look (EXISTS) Redis refuses is no unhandled rejection: it is read again later', async () => {
    // Redis answers the hash read (no hash), then refuses the EXISTS that would confirm the
    // job gone, as it answers every command while a long script runs (BUSY), or a user whose ACL lacks it.
    let exists = 0;
    const redis = {
      pipeline: () => {
        const pipe = { hmget: () => pipe, exec: async () => [[null, [null, null, null, null, null]]] };
        return pipe;
      },
      exists: async () => {
        exists++;
        throw new Error('BUSY Redis is busy running a script');
      },
    } as unknown as RedisClient;
    const entry = { id: 'e-1', jobId: 'e-1', added: true, checkedAt: -Infinity } as unknown as Entry;
    const gone: string[] = [];
    const sweeper = new Sweeper(60_000, {
      redis,
      toKey: (id) => `bull:q:${id}`,
      pending: new Map([['e-1', entry]]),
      packs: () => ({ get: () => undefined }) as unknown as PackBook,
      onActive: () => {},
      ended: () => {},
      gone: (jobId) => gone.push(jobId),
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await sweeper.sweep(true);
      // An unhandled rejection is reported after the microtasks of the turn it happened in.
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    } finally {
      sweeper.stop();
      process.off('unhandledRejection', onUnhandled);
    }
    assert.equal(exists, 1);
    assert.deepEqual(unhandled, []);
    assert.deepEqual(gone, [], 'not failed on a look that did not happen');
  });
});
