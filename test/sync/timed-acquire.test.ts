import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedSemaphore, Semaphore, Thread } from '../../src/index.js';
import type { WaitSteps } from '../../src/sync/waiting.js';
import { regressionTasks } from '../fixtures/sync-torture-tasks.js';
import { delay, ints, joinAll, watch } from './harness.js';

/**
 * Drives a wait loop by hand: the first wait is told it ran out of time right after
 * `between` ran (permits arriving at the deadline), and so is every later one. Returns
 * what the loop answered.
 */
function timeOutAfter(steps: WaitSteps<boolean>, between: () => void): boolean {
  let r = steps.next();
  assert.equal(r.done, false, 'no permit yet: the loop should wait');
  between();
  for (let n = 0; !r.done; n++) {
    assert.ok(n < 10, 'the loop keeps waiting past its deadline');
    r = steps.next(false);
  }
  return r.value;
}

describe('a timed Semaphore acquire whose permit arrives at the deadline', () => {
  it('one permit released as the wait runs out: either it is taken and the call says true, or it stays', () => {
    const sem = new Semaphore(0);
    const got = timeOutAfter(sem._acquireSteps({ timeout: 50 }), () => sem.release());
    assert.equal(sem.value, got ? 0 : 1, `the call said ${got} and left ${sem.value} permit(s) of 1`);
  });

  it('two permits released as the wait runs out: a call takes at most one', () => {
    const sem = new BoundedSemaphore(2);
    assert.equal(sem.acquireSync(), true);
    assert.equal(sem.acquireSync(), true);
    const got = timeOutAfter(sem._acquireSteps({ timeout: 50 }), () => sem.release(2));
    assert.equal(sem.value, got ? 1 : 2, `the call said ${got} and left ${sem.value} permit(s) of 2`);
  });

  it('threads taking with short timeouts while permits trickle in: every permit released is kept by a caller that said true, or is still there', async () => {
    // A permit taken by a call that said false (or a second one taken by a call that
    // said true) is missing from this sum.
    const sem = new Semaphore(0);
    const takers = 3;
    const progress = ints(takers + 1);
    const stop = ints();
    const ts = Array.from({ length: takers }, (_, i) => new Thread({ target: regressionTasks.timedTakeKeep, args: [sem, progress, i, 17 + i, stop] }).start());
    ts.push(new Thread({ target: regressionTasks.trickle, args: [sem, progress, takers, 5, stop] }).start());
    const released = (): number => Atomics.load(progress, takers);
    const kept = (): number => progress.slice(0, takers).reduce((a, b) => a + b, 0);
    const state = (): string => `released ${released()}, kept ${progress.slice(0, takers).join('+')}, left ${sem.value}`;
    try {
      const enough = (async () => {
        while (released() < 800) await delay(20);
      })();
      await watch('timed acquires while permits trickle in', progress, enough, { stallMs: 10_000, totalMs: 100_000, state });
    } finally {
      Atomics.store(stop, 0, 1);
      sem.release(takers); // a taker in a wait gets out at once
      await joinAll('the takers and the trickle', ts, 30_000, state);
    }
    assert.equal(kept() + sem.value, released() + takers, state());
  });
});
