import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, Thread } from '../../src/index.js';
import { PHASE, PROGRESS, SHARED_WORDS, STRIDE, slotWord, violations, WAITING, words } from '../fixtures/sync-torture-layout.js';
import { tortureTasks } from '../fixtures/sync-torture-tasks.js';
import { torture, TORTURE_MS } from './sync-harness.js';

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
      runMs: TORTURE_MS,
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
      satisfied: () => {
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
});
