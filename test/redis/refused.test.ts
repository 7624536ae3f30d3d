/**
 * A job Redis refuses (here: larger than the Redis's proto-max-bulk-len) fails its own
 * Future, saying so: the other Futures sent in the same trip still run. A Redis of its own,
 * started for this file, so that its limit is nobody else's.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { freePort, KEY, REDIS_TASKS_JS, until } from './helpers.js';

const noServer = ((): string | undefined => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    const why = 'no redis-server binary to start a Redis with a small proto-max-bulk-len';
    // As for the shared Redis (see skipReason): under CI=true what the tests need must be there.
    if (process.env.CI === 'true') {
      it('redis-server can be started (CI=true requires it)', () => {
        throw new Error(why);
      });
    }
    return why;
  }
})();

describe('a job Redis refuses', { skip: noServer }, () => {
  let server: ChildProcess | undefined;
  let url = '';
  before(async () => {
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    // 1 MB: the smallest limit Redis takes.
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--proto-max-bulk-len', '1mb'], { stdio: 'ignore' });
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    probe.on('error', () => {});
    try {
      await until(async () => (await probe.ping().catch(() => '')) === 'PONG', 'the Redis of this file to answer', 20_000);
    } finally {
      probe.disconnect();
    }
  });
  after(() => {
    server?.kill('SIGKILL');
  });

  it('fails alone, naming the job and what Redis said: the Futures sent with it run', async () => {
    const queue = 'refused';
    const worker = await RedisWorker.start({ connection: url, queue, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 2 });
    try {
      await using ex = new RedisExecutor({ connection: url, queue, key: KEY });
      // In one turn: one trip (addBulk) for all eleven.
      const before = Array.from({ length: 5 }, (_, i) => ex.submit(redisTasks.inc, i));
      const big = ex.submit(redisTasks.inc, 'x'.repeat(2_000_000) as never);
      const later = Array.from({ length: 5 }, (_, i) => ex.submit(redisTasks.inc, 10 + i));
      const err = (await big.exception(30_000)) as Error;
      assert.match(err.message, new RegExp(`job ${big.jobId} \\(inc .*\\) was refused by Redis: .*invalid bulk length.*its data is 2000\\d{3} bytes`));
      assert.deepEqual(await Promise.all([...before, ...later].map((f) => f.result(30_000))), [1, 2, 3, 4, 5, 11, 12, 13, 14, 15]);
      // Alone, the same.
      const alone = ex.submit(redisTasks.inc, 'y'.repeat(2_000_000) as never);
      assert.match(String(await alone.exception(30_000)), new RegExp(`job ${alone.jobId} \\(inc .*\\) was refused by Redis`));
      assert.equal(await ex.submit(redisTasks.inc, 99).result(30_000), 100);
    } finally {
      await worker.close();
    }
  });
});
