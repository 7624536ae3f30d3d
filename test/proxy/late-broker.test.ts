// A caller that reaches a live owner before the owner's broker listens keeps trying:
// under load (15-20 on 2 cores, TypeScript through tsx) a broker thread took over 10 s
// from its start to listening, and callers that gave up after 10 s failed with
// `connect ENOENT …/broker.sock`. Here the owner's broker starts 11 s after the first call.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Event, Process } from '../../src/index.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../src/proxy/owner.js';
import { RemoteSemLock } from '../../src/proxy/proxies.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';

/** How long after the caller's first try the owner's broker starts (past the 10 s callers used to wait). */
const LATE_MS = 11_000;

describe('an owner whose broker listens late', () => {
  it('is reached once it listens: the caller keeps trying while the owner lives', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concur-late-broker-'));
    const path = join(dir, 'broker.sock');
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex');
    const started = new Event();
    const owner = new Process({ target: proxyTasks.shareLockLate, args: [started, path, key, LATE_MS], daemon: true }).start();
    try {
      assert.equal(await started.wait(60_000), true, 'the owner runs');
      // The proxy its share will make, made here before the share: nothing listens at `path` yet.
      const lock = new RemoteSemLock({ addr: path, key, pid: owner.pid!, id: 1, maxFrame: DEFAULT_MAX_FRAME_BYTES }, 'Lock');
      const start = performance.now();
      assert.equal(await lock.acquire({ timeout: 60_000 }), true);
      const waited = performance.now() - start;
      assert.ok(waited >= LATE_MS - 100, `the call waited for the broker (${Math.round(waited)} ms)`);
      lock.release();
    } finally {
      owner.kill();
      await owner.join();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
