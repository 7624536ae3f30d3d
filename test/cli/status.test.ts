// `concur status` against a Redis that cannot answer: it must say so and end, not wait for ever.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { real } from '../fixtures/source.js';
import { concur } from './run-concur.js';

const TASKS = real(new URL('../fixtures/redis-tasks.mjs', import.meta.url));

describe('concur status', () => {
  it('a server that takes the connection and never answers (a stuck Redis, a wrong port): exit 1 saying so, within seconds', { timeout: 60_000 }, async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => void sockets.push(s)).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as { port: number };
    try {
      const started = performance.now();
      // Its bound shortened from 10 s (a test seam): the test is that it ends by its bound at all.
      const env = { ...process.env, CONCUR_TEST_STATUS_TIMEOUT_MS: '1500' };
      const r = await concur(['status', '--queue', 'jobs', '--redis', `redis://127.0.0.1:${port}`], { timeoutMs: 40_000, env });
      assert.doesNotMatch(r.stderr, /\[test\] killed/, 'concur status waited for ever');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`concur status: .*127\\.0\\.0\\.1:${port}.*within 1500 ms`));
      assert.ok(performance.now() - started < 30_000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  // The same mistakes `concur worker` reports as usage errors: exit 2 from both, saying what
  // was wrong, before any connection is tried.
  const MISTAKES: [string, string[], RegExp][] = [
    ['a URL without redis://', ['--redis', '127.0.0.1:6379'], /must be a redis:\/\/ or rediss:\/\/ URL/],
    ['a URL whose port is not a number', ['--redis', 'redis://127.0.0.1:abc'], /connection "redis:\/\/127\.0\.0\.1:abc" is not a valid URL/],
    ['a database index that is not a number', ['--redis', 'redis://127.0.0.1:6379/x'], /database index must be a non-negative integer, got "x"/],
    ['a queue name with a colon', ['--queue', 'a:b'], /queue must be a non-empty name without ':'/],
  ];
  for (const [what, args, says] of MISTAKES) {
    it(`${what}: status and worker both exit 2 (a usage error), saying so`, { timeout: 60_000 }, async () => {
      const withQueue = args.includes('--queue') ? args : ['--queue', 'jobs', ...args];
      // The two commands at once: neither touches what the other does.
      const [status, worker] = await Promise.all([
        concur(['status', ...withQueue], { timeoutMs: 40_000 }),
        concur(['worker', ...withQueue, '--tasks', TASKS, '--workers', '1'], {
          timeoutMs: 40_000,
          env: { ...process.env, CONCUR_KEY: 'test-key-0123456789abcdef' },
        }),
      ]);
      assert.equal(status.code, 2, status.stderr);
      assert.match(status.stderr, says);
      assert.equal(worker.code, 2, worker.stderr);
      assert.match(worker.stderr, says);
      assert.doesNotMatch(worker.stdout, /serving queue/);
    });
  }
});
