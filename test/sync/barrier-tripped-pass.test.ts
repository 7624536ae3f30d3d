// The last arrival trips a pass: from then on it goes through for all its parties, as in
// Python (where the arrival and the action run under the barrier's lock), and an abort()
// or reset() that comes after acts on the waits that follow only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Barrier, BrokenBarrierError, Thread } from '../../src/index.js';
import { gatedActions, gatedTasks, slowActions, timedTasks } from '../fixtures/barrier-pass-tasks.js';
import { flagged, ints } from './harness.js';

const outcome = (p: Promise<number>): Promise<string> => p.then((i) => `passed ${i}`, (e: Error) => `${e.name}: ${e.message}`);

describe('Barrier: abort() or reset() after the last arrival', () => {
  it('abort() right after the third of three arrivals: all three pass, later waits are broken', async () => {
    const b = new Barrier(3);
    const ws = [0, 1, 2].map(() => outcome(b.wait()));
    assert.equal(b.nWaiting, 0);
    b.abort();
    assert.equal(b.broken, true);
    assert.deepEqual(await Promise.all(ws), ['passed 0', 'passed 1', 'passed 2']);
    assert.equal(b.broken, true);
    await assert.rejects(b.wait(), BrokenBarrierError);
  });

  it('abort() after five arrivals at a Barrier(3): the three of the tripped pass pass, the two of the next generation are broken', async () => {
    const b = new Barrier(3);
    const ws = [0, 1, 2, 3, 4].map(() => outcome(b.wait()));
    b.abort();
    const got = await Promise.all(ws);
    assert.deepEqual(got.filter((r) => r.startsWith('passed')).sort(), ['passed 0', 'passed 1', 'passed 2']);
    assert.equal(got.filter((r) => r.startsWith('BrokenBarrierError')).length, 2, got.join('; '));
  });

  it('reset() right after the last arrival: all pass, and the barrier goes on', async () => {
    const b = new Barrier(3);
    const ws = [0, 1, 2].map(() => outcome(b.wait()));
    b.reset();
    assert.deepEqual(await Promise.all(ws), ['passed 0', 'passed 1', 'passed 2']);
    assert.equal(b.broken, false);
    assert.deepEqual((await Promise.all([b.wait(), b.wait(), b.wait()])).sort(), [0, 1, 2]);
  });

  it('abort() then reset() during the pass leave it whole, and the barrier unbroken', async () => {
    const b = new Barrier(2);
    const ws = [0, 1].map(() => outcome(b.wait()));
    b.abort();
    b.reset();
    assert.deepEqual(await Promise.all(ws), ['passed 0', 'passed 1']);
    assert.equal(b.broken, false);
  });

  for (const call of ['abort', 'reset'] as const) {
    it(`${call}() while a thread that arrived last (waitSync) runs the action: both parties pass`, { timeout: 90_000 }, async () => {
      const b = new Barrier(2, { action: gatedActions.gated });
      const gate = ints(2);
      const out = ints(1);
      const mine = outcome(b.wait(60_000));
      const t = new Thread({ target: gatedTasks.gatedWaiter, args: [b, gate, out] }).start();
      try {
        assert.ok(await flagged(gate, 0, 60_000), 'the thread never ran the action');
        b[call]();
      } finally {
        Atomics.store(gate, 1, 1);
        Atomics.notify(gate, 1);
      }
      assert.ok(await flagged(out, 0, 60_000), 'the thread never returned from waitSync');
      await t.join();
      assert.deepEqual([await mine, Atomics.load(out, 0)], ['passed 0', 2]);
      assert.equal(b.broken, call === 'abort');
    });
  }

  // In Python the action runs under the barrier's lock: a waiter whose time runs out
  // meanwhile gets the lock back only once the pass is through, and passes.
  it('a waiter whose timeout ends while the last arrival runs the action passes, and the barrier stays whole', { timeout: 90_000 }, async () => {
    const b = new Barrier(2, { action: slowActions.slow });
    const out = ints(2);
    const t = new Thread({ target: timedTasks.timedWaiter, args: [b, 300, out] }).start();
    assert.ok(await flagged(out, 1, 60_000), 'the thread never began its wait');
    while (b.nWaiting === 0 && Atomics.load(out, 0) === 0) await new Promise((r) => setImmediate(r));
    // The thread's 300 ms run out inside the 1.5 s action, which this (last) arrival runs.
    const mine = await outcome(b.wait());
    assert.ok(await flagged(out, 0, 60_000), 'the thread never returned from waitSync');
    await t.join();
    assert.deepEqual([mine, Atomics.load(out, 0)], ['passed 1', 1]);
    assert.equal(b.broken, false);
  });

  it('an arrival whose timeout ends while another generation passes waits for it, then takes its place in the next', { timeout: 90_000 }, async () => {
    const b = new Barrier(2, { action: slowActions.slow });
    const out = ints(2);
    // The thread arrives last of the first generation and runs the 1.5 s action there.
    const first = outcome(b.wait(60_000));
    const t = new Thread({ target: timedTasks.timedWaiter, args: [b, 60_000, out] }).start();
    assert.ok(await flagged(out, 1, 60_000), 'the thread never began its wait');
    while (b.nWaiting !== 0 || Atomics.load(out, 0) !== 0) await new Promise((r) => setImmediate(r));
    // PASSING now (nWaiting 0 with the thread inside waitSync): a third arrival, 200 ms to spare.
    const late = outcome(b.wait(200));
    assert.deepEqual(await first, 'passed 0');
    assert.ok(await flagged(out, 0, 60_000), 'the thread never returned from waitSync');
    await t.join();
    assert.equal(Atomics.load(out, 0), 2, 'the pass the late arrival timed out beside was broken');
    // The late arrival then waits in the next generation, alone: its 200 ms end there, and break it.
    assert.match(await late, /^BrokenBarrierError: barrier wait timed out/);
  });
});
