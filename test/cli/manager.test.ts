// `concur manager`: a manager served in the foreground, reached over TCP by address and
// authkey, its --register types made by clients; SIGTERM shuts it down.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager } from '../../src/index.js';
import { bin, start } from './run-concur.js';
import { startNode } from '../fixtures/run-node.js';
import { real } from '../fixtures/source.js';

const types = real(new URL('../fixtures/cli-manager-types.mjs', import.meta.url));

describe('concur manager', () => {
  it('serves on TCP until SIGTERM; clients connect, make objects and registered types', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concur-cli-mgr-'));
    try {
      writeFileSync(join(dir, 'key'), 'the key\n');
      const run = start(['manager', '--address', '127.0.0.1:0', '--authkey-file', join(dir, 'key'), '--register', types, '--call-timeout', '4321'], { timeoutMs: 50_000 });
      const port = await new Promise<number>((resolve, reject) => {
        const look = setInterval(() => {
          const m = /listening at 127\.0\.0\.1:(\d+) \(server pid \d+\); types: Counter/.exec(run.stdout());
          if (m) {
            clearInterval(look);
            resolve(Number(m[1]));
          }
        }, 50);
        void run.ended.then((r) => {
          clearInterval(look);
          reject(new Error(`ended before listening: ${r.stderr}`));
        });
      });
      {
        await using m = await Manager.connect({ address: { host: '127.0.0.1', port }, authkey: 'the key' });
        const c = m.create<{ increment(by?: number): number }>('Counter', 40);
        assert.equal(c.increment(2), 42);
        const d = m.dict({ a: 1 });
        assert.equal(d.get('a'), 1);
        // --call-timeout is the server's: it reaches the clients' proxies.
        assert.equal((d as unknown as { _ref: { callTimeout: number } })._ref.callTimeout, 4321);
      }
      run.child.kill('SIGTERM');
      const ended = await run.ended;
      assert.equal(ended.code, 0, ended.stderr);
      assert.match(ended.stdout, /SIGTERM, shut down/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing key file or a bad module is a usage error (exit 2)', { timeout: 60_000 }, async () => {
    const noKey = await start(['manager', '--address', '127.0.0.1:0', '--authkey-file', '/nonexistent/key']).ended;
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /cannot read --authkey-file/);
    const badTimeout = await start(['manager', '--address', '127.0.0.1:0', '--authkey-file', '/nonexistent/key', '--call-timeout', 'soon']).ended;
    assert.equal(badTimeout.code, 2);
    assert.match(badTimeout.stderr, /--call-timeout/);
  });

  for (const address of ['127.0.0.1:abc', 'localhost:', 'example.com:5O000']) {
    it(`--address ${address}, a HOST:PORT without a port, is a usage error (exit 2), not a Unix socket of that name`, { timeout: 60_000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'concur-cli-mgr-'));
      writeFileSync(join(dir, 'key'), 'secret');
      const r = await start(['manager', '--address', address, '--authkey-file', join(dir, 'key')], { cwd: dir, timeoutMs: 20_000 }).ended;
      assert.doesNotMatch(r.stderr, /\[test\] killed/, `it served at ${address}: ${r.stdout}`);
      assert.equal(r.code, 2, r.stderr + r.stdout);
      assert.match(r.stderr, /--address/);
      assert.deepEqual(readdirSync(dir), ['key'], 'no socket file made');
      rmSync(dir, { recursive: true, force: true });
    });
  }

  it('a SIGTERM as soon as it says it listens shuts it down (exit 0) rather than killing it (5 tries)', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concur-cli-mgr-'));
    try {
      writeFileSync(join(dir, 'key'), 'the key\n');
      for (let i = 0; i < 5; i++) {
        const run = startNode([bin, 'manager', '--address', '127.0.0.1:0', '--authkey-file', join(dir, 'key')], { timeoutMs: 30_000 });
        await run.waitFor(/listening at/);
        process.kill(run.pid, 'SIGTERM');
        assert.deepEqual(await run.exited, { code: 0, signal: null }, `try ${i}: ${JSON.stringify(run.output())}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
