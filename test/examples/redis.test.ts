// The example that needs a Redis, and the tour's stop for it.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { skipReason as noRedis } from '../redis/helpers.js';
import { example, run, tour } from './run-example.js';

describe('examples that need a Redis', () => {
  // Needs a Redis: skipped with the reason when none answers (under CI=true, helpers.js fails the run instead).
  it('redis-crawler.ts: the crawler on a RedisExecutor, two RedisWorkers sharing the pages', { skip: noRedis }, async () => {
    const { stdout: out } = await run(process.execPath, ['--import', 'tsx', example('redis-crawler.ts')], { timeout: 60_000 });
    const m = /^redis +40 pages, 820000 bytes \(all\) in \d+ ms; worker-a ran (\d+), worker-b ran (\d+)$/m.exec(out);
    assert.ok(m, out);
    assert.equal(Number(m[1]) + Number(m[2]), 40);
  });

  it('npm start: without a Redis, the tour says how to start one and skips only the Redis stop', async () => {
    // A port nothing listens on: the one a server just released.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const { stdout } = await run(process.execPath, [tour, '--only', 'redis-crawler.ts', 'pipe.ts'], { timeout: 120_000, env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}` } });
    assert.match(stdout, new RegExp(`skipped: no Redis answers at redis://127\\.0\\.0\\.1:${port}\\. Start one \\(redis-server`));
    assert.match(stdout, /parent got: hello from the child/);
    assert.match(stdout, /^1 of 2 scenarios ran \(1 skipped: no Redis\)\.$/m);
  });
});
