import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, Thread } from '../../src/index.js';
import { PHASE, PROGRESS, SHARED_WORDS, STRIDE, slotWord, violations, WAITING, words } from '../fixtures/sync-torture-layout.js';
import { tortureTasks } from '../fixtures/sync-torture-tasks.js';
import { SATISFIED_STALL_MS, torture, TORTURE_MS } from './sync-harness.js';

describe('torture: Event', () => {
  it('6 threads setting, clearing and waiting (with and without timeouts) on one Event, terminated at random', async () => {
    const slots = 6;
    const e = new Event();
    const shared = words(SHARED_WORDS);
    const perSlot = words(slots * STRIDE);
    const stop = words(1);
    const all = Array.from({ length: slots }, (_, i) => i);
    const word = (i: number, w: number): number => Atomics.load(perSlot, slotWord(i, w));
    let sets = 0;
    const r = await torture({
      what: `Event torture: ${slots} threads`,
      slots,
      words: perSlot,
      runMs: TORTURE_MS / 2,
      killEveryMs: 400,
      start: (slot, seed) => new Thread({ target: tortureTasks.eventChurn, args: [e, shared, perSlot, slot, seed, stop] }).start(),
      // Everyone waiting on a cleared flag is a fair deadlock of the mix: the main thread sets it then.
      tick: (quietMs) => {
        if (quietMs > 200 && !e.isSet()) {
          e.set();
          sets++;
        }
      },
      check: () => violations(shared),
      satisfied: (quietMs) => {
      if (quietMs < SATISFIED_STALL_MS) return undefined;
        const waiting = all.filter((i) => word(i, PHASE) === WAITING);
        return e.isSet() && waiting.length > 0 ? `the flag is set and threads ${waiting.join(',')} wait on it` : undefined;
      },
      main: async (running) => {
        // A coroutine of the main thread waits too: a wait with no timeout must end true.
        while (running()) {
          if (!(await e.wait())) throw new Error('Event.wait() with no timeout returned false');
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
      stop: () => Atomics.store(stop, 0, 1),
      unblock: () => e.set(),
      state: () =>
        `flag ${Atomics.load(e._state, 0)}, generation ${Atomics.load(e._state, 1)}, sets by the main thread ${sets}; ` +
        `phases ${all.map((i) => word(i, PHASE)).join(',')}; progress ${all.map((i) => word(i, PROGRESS)).join(',')}`,
    });
    assert.ok(r.ops > 0);
    console.log(`# Event torture: ${r.ops} ops, ${r.kills} threads terminated (seed ${r.seed})`);
  });

  it('3 pairs of threads relaying with two Events each, no timeouts, pairs restarted now and then: a waiter never sleeps on while its flag is up', async () => {
    const pairs = 3;
    const slots = 2 * pairs;
    const events = Array.from({ length: pairs }, () => [new Event(), new Event()] as [Event, Event]);
    const perSlot = words(slots * STRIDE);
    const stop = words(1);
    const all = Array.from({ length: slots }, (_, i) => i);
    const word = (i: number, w: number): number => Atomics.load(perSlot, slotWord(i, w));
    // The leader (even slot) waits on the pair's second event, the follower on the first.
    const awaited = (slot: number): Event => events[slot >> 1]![slot % 2 === 0 ? 1 : 0];
    const r = await torture({
      what: `Event relay torture: ${pairs} pairs`,
      slots,
      words: perSlot,
      runMs: TORTURE_MS / 2,
      // A round trip takes microseconds: 1.5 s without one, its event set, is a waiter asleep on it.
      stallMs: 1500,
      // A pair is restarted whole, on fresh Events: the race shows most while the code is cold.
      killEveryMs: 700,
      killGroup: (slot) => [slot & ~1, slot | 1],
      afterKill: (slot) => {
        if (slot % 2 === 0) events[slot >> 1] = [new Event(), new Event()];
      },
      start: (slot, seed) => {
        void seed;
        const [e1, e2] = events[slot >> 1]!;
        return new Thread({ target: tortureTasks.eventRelay, args: [e1, e2, slot % 2 === 0, perSlot, slot, stop] }).start();
      },
      check: () => undefined,
      satisfied: (_quietMs, stalled) => {
        // The wait is the only place a relay thread blocks: stalled with its event set is asleep on it.
        const stuck = stalled.filter((i) => awaited(i).isSet());
        return stuck.length > 0 ? `threads ${stuck.join(',')} stopped with the Event they wait on set` : undefined;
      },
      stop: () => Atomics.store(stop, 0, 1),
      unblock: () => {
        for (const [a, b] of events) {
          a.set();
          b.set();
        }
      },
      state: () =>
        `flags ${events.map(([a, b]) => `${a.isSet() ? 1 : 0}/${b.isSet() ? 1 : 0}`).join(' ')}; ` +
        `progress ${all.map((i) => word(i, PROGRESS)).join(',')}`,
    });
    assert.ok(r.ops > 0);
    console.log(`# Event relay torture: ${r.ops} round trips (seed ${r.seed})`);
  });
});
