import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Semaphore, Thread } from '../../src/index.js';
import { ACQUIRING, GIVES, HELD, TAKES, INSIDE, PHASE, PROGRESS, SHARED_WORDS, STRIDE, slotWord, violations, words } from '../fixtures/sync-torture-layout.js';
import { tortureTasks } from '../fixtures/sync-torture-tasks.js';
import { SATISFIED_STALL_MS, torture, TORTURE_MS } from './sync-harness.js';

describe('torture: Semaphore', () => {
  it('Semaphore(2): 6 threads taking permits in random ways, holders terminated at random', async () => {
    const permits = 2;
    const slots = 6;
    const sem = new Semaphore(permits);
    const shared = words(SHARED_WORDS);
    const perSlot = words(slots * STRIDE);
    const stop = words(1);
    const all = Array.from({ length: slots }, (_, i) => i);
    const word = (i: number, w: number): number => Atomics.load(perSlot, slotWord(i, w));
    // A permit taken by a thread that died is never given back (the policy): the test gives
    // it back for the dead, knowing from HELD; one taken in the instant before HELD was set
    // shows as every thread waiting with no permit left and no holder. Each termination
    // strands at most one permit: more given back means a permit vanished on its own.
    let givenBack = 0;
    let lastProgress = -1;
    const leaked = (live: number[]): boolean => sem.value === 0 && live.length === slots && live.every((i) => word(i, HELD) === 0 && word(i, PHASE) === ACQUIRING);
    const r = await torture({
      what: `Semaphore(${permits}) torture: ${slots} threads`,
      slots,
      words: perSlot,
      runMs: TORTURE_MS,
      killEveryMs: 400,
      start: (slot, seed) => new Thread({ target: tortureTasks.semaphoreChurn, args: [sem, permits, shared, perSlot, slot, seed, stop] }).start(),
      afterKill: (slot) => {
        if (word(slot, HELD) === 1) {
          Atomics.sub(shared, INSIDE, 1);
          sem.release();
          givenBack++;
        }
      },
      tick: (quietMs, live) => {
        // Not sooner: a thread that just took a permit (before it set HELD) looks the same
        // until it runs again, which on a loaded machine can take a while.
        if (quietMs > 1500 && leaked(live)) {
          sem.release();
          givenBack++;
        }
      },
      check: () => violations(shared),
      satisfied: (quietMs) => {
      if (quietMs < SATISFIED_STALL_MS) return undefined;
        const waiting = all.filter((i) => word(i, PHASE) === ACQUIRING);
        return sem.value > 0 && waiting.length > 0 ? `${sem.value} permit(s) free and threads ${waiting.join(',')} wait to acquire one` : undefined;
      },
      stop: () => Atomics.store(stop, 0, 1),
      unblock: () => {
        // Stopping: threads that wait (no timeout) for permits the dead took get one, once nothing moves.
        const progress = all.reduce((n, i) => n + word(i, PROGRESS), 0);
        if (progress === lastProgress && sem.value === 0 && all.every((i) => word(i, HELD) === 0)) sem.release();
        lastProgress = progress;
      },
      state: () =>
        `value ${sem.value}, sleepers ${Atomics.load(sem._state, 1)}, inside ${Atomics.load(shared, INSIDE)}, given back for the dead ${givenBack}; ` +
        `phases ${all.map((i) => word(i, PHASE)).join(',')}; held ${all.map((i) => word(i, HELD)).join(',')}; taken-given ${all.map((i) => word(i, TAKES) - word(i, GIVES)).join(',')}; progress ${all.map((i) => word(i, PROGRESS)).join(',')}`,
    });
    assert.ok(r.ops > 0);
    assert.ok(givenBack <= r.kills, `${givenBack} permits given back for ${r.kills} threads terminated: permits vanished without a holder dying`);
    console.log(`# Semaphore torture: ${r.ops} ops, ${r.kills} threads terminated, ${givenBack} permits given back for them (seed ${r.seed})`);
  });
});
