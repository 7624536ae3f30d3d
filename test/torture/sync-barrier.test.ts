import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Barrier, BrokenBarrierError, Thread } from '../../src/index.js';
import { isOwnerGone } from '../../src/sync/owner.js';
import { PHASE, PROGRESS, SHARED_WORDS, STRIDE, slotWord, violations, words } from '../fixtures/sync-torture-layout.js';
import { barrierActions, tortureTasks } from '../fixtures/sync-torture-tasks.js';
import { rng, torture, TORTURE_MS } from './sync-harness.js';

// Barrier words (src/sync/barrier.ts): count, state (0 filling, 1 passing, 2 broken), passer.
const COUNT = 1;
const STATE = 3;
const PASSER = 5;

describe('torture: Barrier', () => {
  it('Barrier(3) with a short action: 5 threads and a coroutine of the main thread, timeouts, aborts and resets, threads terminated at random (also inside the action)', async () => {
    const parties = 3;
    const slots = 5;
    const b = new Barrier(parties, { action: barrierActions.shortPass });
    const counts = words(parties + 1);
    const shared = words(SHARED_WORDS);
    const perSlot = words(slots * STRIDE);
    const stop = words(1);
    const all = Array.from({ length: slots }, (_, i) => i);
    const word = (i: number, w: number): number => Atomics.load(perSlot, slotWord(i, w));
    let passingSince = 0;
    const r = await torture({
      what: `Barrier(${parties}) torture: ${slots} threads`,
      slots,
      words: perSlot,
      runMs: TORTURE_MS,
      killEveryMs: 400,
      start: (slot, seed) => new Thread({ target: tortureTasks.barrierChurn, args: [b, counts, shared, perSlot, slot, seed, stop] }).start(),
      check: () => {
        const broken = violations(shared);
        if (broken !== undefined) return broken;
        const state = Atomics.load(b._state, STATE);
        if (state === 0 && Atomics.load(b._state, COUNT) >= parties) return `${Atomics.load(b._state, COUNT)} arrivals wait in one generation of a Barrier(${parties})`;
        // A passer stopped inside the action must not hold the others for longer than a slice or two.
        if (state === 1 && isOwnerGone(Atomics.load(b._state, PASSER))) {
          passingSince ||= Date.now();
          if (Date.now() - passingSince > 2000) return 'the thread running the action was stopped 2 s ago and the barrier still waits for it';
        } else passingSince = 0;
        return undefined;
      },
      main: async (running) => {
        const rand = rng(11);
        while (running()) {
          try {
            const index = await b.wait(rand() < 0.5 ? undefined : 1 + rand() * 30);
            if (index < 0 || index >= parties) throw new Error(`index ${index} out of range`);
            Atomics.add(counts, index, 1);
          } catch (err) {
            if (!(err instanceof BrokenBarrierError)) throw err;
            if (rand() < 0.3) b.reset();
          }
        }
      },
      stop: () => Atomics.store(stop, 0, 1),
      unblock: () => b.abort(),
      state: () =>
        `barrier words ${[...b._state.slice(0, 8)].join(',')}; index counts ${[...counts].join(',')}; ` +
        `phases ${all.map((i) => word(i, PHASE)).join(',')}; progress ${all.map((i) => word(i, PROGRESS)).join(',')}`,
    });
    // Each pass hands out each index once; a thread terminated between a pass and its count misses one.
    const indexes = [...counts].slice(0, parties);
    assert.ok(Math.max(...indexes) - Math.min(...indexes) <= r.kills, `index counts ${indexes.join(',')} differ by more than the ${r.kills} threads terminated`);
    assert.ok(Math.min(...indexes) > 0, `no pass at all: ${indexes.join(',')}`);
    console.log(`# Barrier torture: ${r.ops} ops, passes ~${Math.min(...indexes)}, broken waits ${counts[parties]}, ${r.kills} threads terminated (seed ${r.seed})`);
  });
});
