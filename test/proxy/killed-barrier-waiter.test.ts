// A process SIGKILLed while it waits (no timeout) on a Barrier of another process breaks
// the barrier, as a thread terminated while waiting does. Through a proxy (without the
// native part: npm test runs this file that way too) the owner's broker learns the caller
// is gone; in memory both processes map, the others waiting find its arrival's owner gone
// (within a scan), as does the next arrival or a look at `broken`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier, BrokenBarrierError, Process, sleep } from '../../src/index.js';
import { barrierProxyTasks } from '../fixtures/barrier-proxy-tasks.js';

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

/** How `p` settled, and when (performance.now()). */
async function settled<T>(p: Promise<T>): Promise<{ ok: boolean; value: unknown; at: number }> {
  try {
    const value = await p;
    return { ok: true, value, at: performance.now() };
  } catch (err) {
    return { ok: false, value: err, at: performance.now() };
  }
}

describe('a process killed while it waits on a Barrier of another process', () => {
  it('breaks the barrier: the other waiters get BrokenBarrierError within about a second', { timeout: 120_000 }, async (t) => {
    const b = new Barrier(3);
    // The child arrives first: this side's bounded wait starts only then, so a slow
    // process start (tens of seconds at load 25) cannot run it out and break the
    // barrier before the child is there.
    const p = new Process({ target: barrierProxyTasks.waitForever, args: [b] }).start();
    await until('the child waits at the barrier', () => b.nWaiting === 1, 60_000);
    // Bounded, so that a barrier left whole fails the test (on time) instead of hanging it.
    const mine = settled(b.wait(20_000));
    await until('this side waits at the barrier too', () => b.nWaiting === 2, 10_000);
    p.kill();
    const killedAt = performance.now();
    const end = await mine;
    assert.equal(end.ok, false, `the wait passed with index ${String(end.value)}`);
    assert.ok(end.value instanceof BrokenBarrierError, `BrokenBarrierError, got ${String(end.value)}`);
    t.diagnostic(`broken ${Math.round(end.at - killedAt)} ms after the kill`);
    assert.ok(end.at - killedAt < 1500, `broken ${Math.round(end.at - killedAt)} ms after the kill`);
    assert.equal(b.broken, true);
    await assert.rejects(b.wait(), BrokenBarrierError, 'every arrival until reset');
    await p.join();
    b.reset();
    assert.equal(b.broken, false);
  });

  it('a waiter killed before the pass does not count for a later one: after reset, two live parties pass', { timeout: 60_000 }, async () => {
    const b = new Barrier(2);
    const p = new Process({ target: barrierProxyTasks.waitForever, args: [b] }).start();
    await until('the child waits at the barrier', () => b.nWaiting === 1, 60_000);
    p.kill();
    await p.join();
    await until('the barrier broke', () => b.broken, 20_000);
    b.reset();
    const [x, y] = await Promise.all([b.wait(10_000), b.wait(10_000)]);
    assert.deepEqual([x, y].sort(), [0, 1]);
  });
});
