// A timed put into an unbounded SharedQueue of another process, behind this thread's
// earlier puts that cannot land because the owner's ring is full: the item is not sent,
// so the put raises Full (the queue's answer to "no room in time"), not a TimeoutError
// that says it may still be put.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProcessPoolExecutor, SharedQueue } from '../../src/index.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// What this file tests is the owner-served proxy: every queue here crosses as one.
_crossAsProxies(true);

describe('a timed put behind earlier puts that wait for room in the owner', () => {
  it('raises Full, and the item is not put', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concur-full-'));
    const report = join(dir, 'outcome');
    try {
      await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
      // Two 105-byte records fit; the child puts five, then one with a 50 ms timeout.
      const q = new SharedQueue<string>({ capacityBytes: 256 });
      const task = pool.submit(proxyTasks.putBehindAFullQueue, q, 5, 100, 50, report);
      const until = performance.now() + 60_000;
      while (!existsSync(report)) {
        assert.ok(performance.now() < until, 'the child never reported its timed put');
        await new Promise((r) => setTimeout(r, 20));
      }
      const outcome = readFileSync(report, 'utf8');
      // Drained before anything is asserted: the task ends only once its puts have landed.
      const got: string[] = [];
      for (let i = 0; i < 5; i++) got.push((await q.get({ timeout: 30_000 })).replace(/\.+$/, ''));
      await task.result();
      assert.match(outcome, /^Full: queue still full after 50 ms.*this item was not put/);
      assert.deepEqual(got, ['0', '1', '2', '3', '4']);
      assert.equal(q.qsize(), 0, 'the timed item was not put');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
