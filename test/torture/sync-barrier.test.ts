import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Barrier, BrokenBarrierError, Thread } from '../../src/index.js';
import { lockInternal, unlockInternal } from '../../src/sync/internal-lock.js';
import { isOwnerGone } from '../../src/sync/owner.js';
import { PHASE, PROGRESS, SHARED_WORDS, STRIDE, slotWord, violations, words } from '../fixtures/sync-torture-layout.js';
import { barrierActions, tortureTasks } from '../fixtures/sync-torture-tasks.js';
import { rng, SATISFIED_STALL_MS, torture, TORTURE_MS } from './sync-harness.js';

// Barrier words (src/sync/barrier.ts): its internal lock, count, generation, state (0
// filling, 1 passing, 2 broken), passer, and each arrival's owner by index.
const LOCK = 0;
const COUNT = 1;
const GEN = 2;
const STATE = 3;
const BREAKS = 4;
const PASSER = 5;
const BROKE = 8; // the generation each of the last RING breaks broke, by break number
const RING = 16;
const ARRIVALS = 24;

/** What the barrier's words say, read at one moment (under its internal lock: the words change together). */
function snapshot(b: Barrier): { count: number; gen: number; state: number; breaks: number; passer: number; arrivals: number[]; ring: number[] } {
  const s = b._state;
  lockInternal(s, LOCK);
  try {
    const count = Atomics.load(s, COUNT);
    const arrivals = Array.from({ length: Math.min(count, s.length - ARRIVALS) }, (_, i) => Atomics.load(s, ARRIVALS + i));
    const ring = Array.from({ length: RING }, (_, i) => Atomics.load(s, BROKE + i));
    return { count, gen: Atomics.load(s, GEN), state: Atomics.load(s, STATE), breaks: Atomics.load(s, BREAKS), passer: Atomics.load(s, PASSER), arrivals, ring };
  } finally {
    unlockInternal(s, LOCK);
  }
}

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
    // Waits the threads completed (each slot's progress only grows until its thread is replaced).
    const seen = new Array<number>(slots).fill(0);
    let completed = 0;
    const progressNow = (): number => {
      for (const i of all) {
        const p = word(i, PROGRESS);
        completed += p >= seen[i]! ? p - seen[i]! : p;
        seen[i] = p;
      }
      return completed;
    };
    // A generation seen counting a thread that was stopped (the passer, or an arrival that
    // waits): its number, the breaks before it, who, and how many waits had completed then.
    let lost: { gen: number; breaks: number; who: string; passer: boolean; completed: number } | undefined;
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
        const w = snapshot(b);
        if (w.state === 0 && w.count >= parties) return `${w.count} arrivals wait in one generation of a Barrier(${parties})`;
        // The policy: a generation with a thread that was stopped (waiting, or running the
        // action) breaks as soon as a thread of the barrier looks: a waiter within a scan,
        // the next arrival at once. Measured in waits completed, not in time (a loaded
        // machine may not run anyone for a while): each slot completes at most one wait
        // that began before the stop, so past `slots` of them someone arrived after it.
        // And one with a stopped arrival must end broken, never passed: once seen (under the
        // lock), the passer's last look finds it. (A passer being stopped may still finish
        // a pass it had begun to lock for: a thread is let out of an internal section.)
        const done = progressNow();
        if (lost !== undefined && w.gen !== lost.gen && !lost.passer) {
          const since = (w.breaks - lost.breaks) | 0;
          const broke = since > 0 && (since > RING || w.ring[lost.breaks & (RING - 1)] === lost.gen);
          if (!broke) return `generation ${lost.gen} passed though it counted a thread that was stopped (${lost.who})`;
        }
        if (lost !== undefined && w.gen !== lost.gen) lost = undefined;
        if (lost !== undefined) {
          if (done - lost.completed > slots) return `generation ${lost.gen} still counts a thread that was stopped (${lost.who}) after ${done - lost.completed} waits completed`;
          return undefined;
        }
        const gone = w.arrivals.findIndex((owner) => isOwnerGone(owner));
        const passerGone = w.state === 1 && isOwnerGone(w.passer);
        if (w.state !== 2 && (gone >= 0 || passerGone)) {
          const who = passerGone ? `the passer, owner ${w.passer}` : `arrival ${gone}, owner ${w.arrivals[gone]}`;
          lost = { gen: w.gen, breaks: w.breaks, who, passer: passerGone, completed: done };
        }
        return undefined;
      },
      // Nothing moves at all: a generation that still counts a stopped thread is why (waits with no timeout hang on it).
      satisfied: (quietMs) => {
        if (quietMs < SATISFIED_STALL_MS || lost === undefined) return undefined;
        return `generation ${lost.gen} still counts a thread that was stopped (${lost.who})`;
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
