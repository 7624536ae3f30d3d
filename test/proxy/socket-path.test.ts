// Issue 11 item 4: the broker's socket path fits the Unix limit whatever TMPDIR is, and
// the socket is always inside an owner-only directory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { socketPathIn, SOCKET_PATH_MAX } from '../../src/proxy/owner.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';
import { own, TSX } from '../fixtures/source.js';

// This file tests the owner-served proxy: its primitives cross as proxies even where they could cross as memory.
_crossAsProxies(true);

const fixture = fileURLToPath(new URL(own('../fixtures/proxy-long-tmpdir.ts'), import.meta.url));

describe("the broker's socket path", () => {
  it('with a 100-character TMPDIR it listens on a path that fits, in an owner-only directory, and leaves nothing behind', { timeout: 60_000 }, async () => {
    const base = mkdtempSync(join(tmpdir(), 'concur-tmpdir-'));
    const long = join(base, 'x'.repeat(100 - base.length - 1));
    mkdirSync(long);
    assert.equal(long.length, 100);
    try {
      const child = spawn(process.execPath, [...TSX, fixture], { env: { ...process.env, TMPDIR: long }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b));
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
        child.once('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      assert.equal(code, 0, `the program ran (${out})`);
      const { addr, exitCode, dirMode } = JSON.parse(out) as { addr: string; exitCode: number; dirMode: number };
      assert.equal(exitCode, 0, 'the child reached the lock through its proxy');
      assert.ok(Buffer.byteLength(addr) <= SOCKET_PATH_MAX, `${addr} fits in ${SOCKET_PATH_MAX} bytes`);
      assert.equal(dirMode, 0o700, 'the socket is in an owner-only directory');
      // (tsx keeps its cache there: only concur's own leftovers count)
      assert.deepEqual(readdirSync(long).filter((name) => name.startsWith('concur')), [], 'concur left nothing in TMPDIR');
    } finally {
      rmSync(base, { recursive: true, force: true, maxRetries: 5 });
    }
  });

  it('when no candidate directory gives a path that fits, the error names the limit', () => {
    const tooLong = '/' + 'y'.repeat(120);
    assert.throws(() => socketPathIn([tooLong]), (err: Error) => new RegExp(`${SOCKET_PATH_MAX} bytes`).test(err.message) && err.message.includes('TMPDIR'));
  });

  it('a TMPDIR that fits is used as it is', () => {
    const { dir, path } = socketPathIn([tmpdir()]);
    try {
      assert.ok(dir.startsWith(tmpdir()));
      assert.ok(path.startsWith(dir + '/'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
