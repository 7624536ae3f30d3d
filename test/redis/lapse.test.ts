/**
 * The executor's lapse timer on a fake clock: Node's timers count in whole loop
 * milliseconds, and one can fire a fraction of a millisecond before performance.now()
 * reaches the time it was set for. The lapse must still come (start-cut-off's flake: it
 * never did, the Futures stayed PENDING, and a worker started their tasks once Redis
 * expired the lease).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LapseTimer, type LapseClock } from '../../src/redis/lapse.js';

/** A clock whose timers fire only when the test says, at whatever now() the test has set. */
function fakeClock() {
  let now = 0;
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let next = 0;
  const clock: LapseClock = {
    now: () => now,
    setTimeout: (fn, ms) => (timers.set(++next, { fn, ms }), next),
    clearTimeout: (handle) => void timers.delete(handle as number),
  };
  return {
    clock,
    set: (t: number) => void (now = t),
    pending: () => [...timers.values()],
    /** Fires every timer set so far (not those they set). */
    fire: () => {
      const due = [...timers.entries()];
      timers.clear();
      for (const [, t] of due) t.fn();
    },
  };
}

describe('LapseTimer', () => {
  it('a timer that fires before now() reaches the lapse times itself again, and the lapse comes', () => {
    const c = fakeClock();
    let lapses = 0;
    const lapse = new LapseTimer(() => lapses++, c.clock);
    lapse.arm(2000.7);
    assert.deepEqual(c.pending().map((t) => t.ms), [2001.7]);
    c.set(2000.4); // a timer of whole loop milliseconds, early by performance.now()
    c.fire();
    assert.equal(lapses, 0, 'lapsed before its time');
    assert.equal(c.pending().length, 1, 'an early timer did not time itself again: the lapse would never come');
    c.set(2001.2);
    c.fire();
    assert.equal(lapses, 1);
    assert.equal(c.pending().length, 0);
  });

  it('armed again (a renewal), only the latest time counts; cleared (shutdown), nothing comes', () => {
    const c = fakeClock();
    let lapses = 0;
    const lapse = new LapseTimer(() => lapses++, c.clock);
    lapse.arm(100);
    c.set(50);
    lapse.arm(300);
    assert.equal(c.pending().length, 1, 'the earlier timer was not cleared');
    c.set(150);
    c.fire();
    assert.equal(lapses, 0);
    lapse.clear();
    assert.equal(c.pending().length, 0);
    c.set(400);
    c.fire();
    assert.equal(lapses, 0);
  });

  it('armed for a time already past, it lapses at the next timer', () => {
    const c = fakeClock();
    let lapses = 0;
    const lapse = new LapseTimer(() => lapses++, c.clock);
    c.set(500);
    lapse.arm(400);
    assert.deepEqual(c.pending().map((t) => t.ms), [1]);
    c.fire();
    assert.equal(lapses, 1);
  });
});
