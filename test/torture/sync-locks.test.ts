import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lock, RLock, Thread } from '../../src/index.js';
import { HOLDER, OWNER_BITS } from '../../src/sync/lock-base.js';
import { isOwnerGone, ME } from '../../src/sync/owner.js';
import {
  ACQUIRING,
  INSIDE,
  PHASE,
  PROGRESS,
  SHARED_WORDS,
  STRIDE,
  slotWord,
  SYNC_ACQUIRE_DID_NOT_THROW,
  TAKEOVERS,
  violation,
  violations,
  words,
} from '../fixtures/sync-torture-layout.js';
import { enter, leave, tookOver, tortureTasks } from '../fixtures/sync-torture-tasks.js';
import { rng, SATISFIED_STALL_MS, torture, TORTURE_MS, type Scenario } from './sync-harness.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A lock is there for a waiter to take: free, or held by a thread that was stopped. */
function takeable(lock: Lock | RLock): boolean {
  const holder = Atomics.load(lock._state, 0);
  return holder === 0 || isOwnerGone(holder & 0x7fffffff);
}

/** Threads (and, for an RLock, coroutines of the main thread) fighting over one lock, some terminated while they hold it or wait for it. */
function lockScenario(lock: Lock | RLock, slots: number, runMs: number, mainCoroutines: number, threadCoroutines: number): Scenario {
  const shared = words(SHARED_WORDS);
  const perSlot = words(slots * STRIDE);
  const stop = words(1);
  const kind = lock instanceof RLock ? 'RLock' : 'Lock';
  return {
    what: `${kind} torture: ${slots} threads (${threadCoroutines} coroutine(s) each)${mainCoroutines > 0 ? ` and ${mainCoroutines} coroutines of the main thread` : ''}`,
    slots,
    words: perSlot,
    runMs,
    killEveryMs: 400,
    start: (slot, seed) => new Thread({ target: tortureTasks.lockChurn, args: [lock, shared, perSlot, slot, seed, stop, threadCoroutines] }).start(),
    check: () => violations(shared),
    satisfied: (quietMs, _stalled, live) => {
      if (quietMs < SATISFIED_STALL_MS) return undefined;
      if (!takeable(lock)) return undefined;
      const waiting = live.filter((i) => Atomics.load(perSlot, slotWord(i, PHASE)) === ACQUIRING);
      return waiting.length > 0 ? `the lock could be taken and threads ${waiting.join(',')} wait to acquire it` : undefined;
    },
    main: async (running) => {
      const rand = rng(7);
      const one = async (k: number): Promise<void> => {
        const me = 1_000_000 + k;
        while (running()) {
          // Another coroutine of this thread holds it (this one holds nothing here; it may
          // not have entered yet): a blocking acquire must refuse at once.
          const inside = Atomics.load(shared, INSIDE);
          if (lock instanceof RLock && (Atomics.load(lock._state, HOLDER) & OWNER_BITS) === ME) {
            let took = false;
            try {
              took = lock.acquireSync({ timeout: 1000 });
            } catch {
              // expected
            }
            if (took) {
              violation(shared, SYNC_ACQUIRE_DID_NOT_THROW, me, inside);
              lock.release();
            }
          }
          if (await lock.acquire(rand() < 0.7 ? undefined : { timeout: Math.floor(rand() * 3) })) {
            if (lock.ownerDied) tookOver(shared);
            enter(shared, me);
            if (lock instanceof RLock && rand() < 0.3) {
              // Re-entry, by either form, from the coroutine that holds it.
              if (rand() < 0.5 ? lock.acquireSync() : await lock.acquire()) lock.release();
            }
            await turn();
            leave(shared, me);
            lock.release();
          }
          await turn();
        }
      };
      await Promise.all(Array.from({ length: mainCoroutines }, (_, k) => one(k)));
    },
    stop: () => Atomics.store(stop, 0, 1),
    state: () =>
      `holder word ${Atomics.load(lock._state, 0)}, waiters ${Atomics.load(lock._state, 1)}, depth ${Atomics.load(lock._state, 2)}, context ${Atomics.load(lock._state, 3)}; ` +
      `inside ${Atomics.load(shared, INSIDE)}, take-overs ${Atomics.load(shared, TAKEOVERS)}; ` +
      `phases ${Array.from({ length: slots }, (_, i) => Atomics.load(perSlot, slotWord(i, PHASE))).join(',')}; ` +
      `progress ${Array.from({ length: slots }, (_, i) => Atomics.load(perSlot, slotWord(i, PROGRESS))).join(',')}`,
  };
}

describe('torture: Lock and RLock', () => {
  it('Lock: 5 threads, random ways of taking it, holders terminated at random', async () => {
    const lock = new Lock();
    const r = await torture(lockScenario(lock, 5, TORTURE_MS / 2, 0, 1));
    assert.ok(r.ops > 0);
    // A thread terminated holding it at the end leaves it held: it is taken over.
    assert.equal(await lock.acquire({ timeout: 5000 }), true, 'free, or taken over, once everyone stopped');
    lock.release();
    console.log(`# Lock torture: ${r.ops} ops, ${r.kills} threads terminated (seed ${r.seed})`);
  });

  it('RLock: 4 threads of 2 coroutines and 3 coroutines of the main thread, re-entering, holders terminated at random', async () => {
    const lock = new RLock();
    const r = await torture(lockScenario(lock, 4, TORTURE_MS / 2, 3, 2));
    assert.ok(r.ops > 0);
    assert.equal(await lock.acquire({ timeout: 5000 }), true, 'free, or taken over, once everyone stopped');
    lock.release();
    assert.equal(lock.locked(), false);
    console.log(`# RLock torture: ${r.ops} ops, ${r.kills} threads terminated (seed ${r.seed})`);
  });
});
