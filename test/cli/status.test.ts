// `concur status` against a Redis that cannot answer: it must say so and end, not wait for ever.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { concur } from './run-concur.js';

describe('concur status', () => {
  it('a server that takes the connection and never answers (a stuck Redis, a wrong port): exit 1 saying so, within seconds', { timeout: 60_000 }, async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => void sockets.push(s)).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as { port: number };
    try {
      const started = performance.now();
      const r = await concur(['status', '--queue', 'jobs', '--redis', `redis://127.0.0.1:${port}`], { timeoutMs: 40_000 });
      assert.doesNotMatch(r.stderr, /\[test\] killed/, 'concur status waited for ever');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`concur status: .*127\\.0\\.0\\.1:${port}.*within`));
      assert.ok(performance.now() - started < 30_000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
