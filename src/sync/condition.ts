import { describe } from '../futures/future.js';
import { RLock, type SemLock } from './semlock.js';
import { deadlineOf, remaining, runAsync, runSync, wake, type WaitSteps } from './waiting.js';
import { brandInstance, registerShared } from './shared.js';
import { isOwnerGone } from './owner.js';
import { sharedWords } from './shm.js';

/** Most waiters (threads and coroutines alike) that can wait on one Condition at once. */
export const MAX_CONDITION_WAITERS = 256;

// Layout: [nextTicket, then per waiter slot: state, ticket, owner]. A waiter claims a
// free slot while holding the lock (so claims never race), sleeps on its own slot, and
// notify(n) wakes the n oldest tickets: exactly n, first come first served. The owner
// (the waiting thread, or a remote caller) lets notify skip, and free, the slot of a
// thread that was stopped while it waited: a notify is never spent on the dead. The
// words live in memory other processes map (shm.ts), where a process may die anywhere:
// a claim writes the ticket and owner of a free slot (which nobody reads) before one CAS
// makes it WAITING, so no slot is ever WAITING without its owner.
const TICKET = 0;
const FREE = 0;
const WAITING = 1;
const NOTIFIED = 2;
const SLOT_WORDS = 3;
const slotAt = (i: number): number => 1 + SLOT_WORDS * i;
const ticketOf = (slot: number): number => slot + 1;
const ownerOf = (slot: number): number => slot + 2;

/** What `waitFor` needs of a condition: a proxy of one in another process has it too. */
export interface Waitable {
  wait(timeout?: number): Promise<boolean>;
  waitSync(timeout?: number): boolean;
}

/** Waits on `cond` until `predicate()` is true, up to `timeout` ms; returns the predicate's last value. */
export async function waitFor<T>(cond: Waitable, predicate: () => T, timeout?: number): Promise<T> {
  const deadline = deadlineOf(timeout);
  let result = predicate();
  while (!result) {
    const left = remaining(deadline);
    if (left === 0) break;
    await cond.wait(left === Infinity ? undefined : left);
    result = predicate();
  }
  return result;
}

/** `waitFor`, blocking this thread. */
export function waitForSync<T>(cond: Waitable, predicate: () => T, timeout?: number): T {
  const deadline = deadlineOf(timeout);
  let result = predicate();
  while (!result) {
    const left = remaining(deadline);
    if (left === 0) break;
    cond.waitSync(left === Infinity ? undefined : left);
    result = predicate();
  }
  return result;
}

/** Threads wait for a state change announced under a shared lock: threading.Condition. */
export class Condition {
  /** @internal */
  readonly _state: Int32Array;
  /** The lock this condition uses (an RLock unless one was given). */
  readonly lock: SemLock;

  constructor(lock?: SemLock) {
    brandInstance(this, new.target);
    this.lock = lock ?? new RLock();
    this._state = sharedWords(1 + SLOT_WORDS * MAX_CONDITION_WAITERS);
  }

  /** Acquires the underlying lock. */
  acquire(options?: { blocking?: boolean; timeout?: number }): Promise<boolean> {
    return this.lock.acquire(options);
  }

  /** `acquire`, blocking this thread. */
  acquireSync(options?: { blocking?: boolean; timeout?: number }): boolean {
    return this.lock.acquireSync(options);
  }

  /** Releases the underlying lock. */
  release(): void {
    this.lock.release();
  }

  /** Releases the lock, waits for a notify or `timeout` ms, re-acquires; true unless the time ran out. */
  wait(timeout?: number): Promise<boolean> {
    return runAsync(this._waitSteps(timeout));
  }

  /** `wait`, blocking this thread. */
  waitSync(timeout?: number): boolean {
    return runSync(this._waitSteps(timeout));
  }

  /**
   * @internal The wait, for either driver, on behalf of `owner` (default: the caller, in
   * its async context). The lock is taken back for the same owner and context, at the
   * same depth; the taking back is never a re-entry.
   */
  *_waitSteps(timeout: number | undefined, owner?: number): WaitSteps<boolean> {
    const deadline = deadlineOf(timeout);
    const lock = this.lock;
    const who = lock._whoFor(owner);
    if (!lock._owns(who)) throw new Error('cannot wait on un-acquired lock');
    const slot = this._claim(who.owner);
    const saved = lock._releaseFully(who);
    try {
      const s = this._state;
      while (Atomics.load(s, slot) === WAITING) {
        const woke: boolean = yield { view: s, index: slot, expected: WAITING, deadline };
        if (Atomics.load(s, slot) !== WAITING) break;
        if (!woke && Atomics.compareExchange(s, slot, WAITING, FREE) === WAITING) return false;
        // Still waiting after a slice: a notify spent on a thread that was stopped before it woke is taken over.
        this._inherit(slot);
      }
      Atomics.store(s, slot, FREE);
      return true;
    } finally {
      yield* lock._retakeSteps(saved, who);
    }
  }

  /** Waits until `predicate()` is true, up to `timeout` ms; returns the last value of the predicate. */
  waitFor<T>(predicate: () => T, timeout?: number): Promise<T> {
    return waitFor(this, predicate, timeout);
  }

  /** `waitFor`, blocking this thread. */
  waitForSync<T>(predicate: () => T, timeout?: number): T {
    return waitForSync(this, predicate, timeout);
  }

  /** Wakes exactly `n` waiting threads (fewer if fewer wait), oldest first. The lock must be held. */
  notify(n = 1): void {
    this._notify(n);
  }

  /** @internal `notify` on behalf of `owner` (default: the caller). */
  _notify(n: number, owner?: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer >= 0, got ${describe(n)}`);
    if (!this.lock._isOwned(owner)) throw new Error('cannot notify on un-acquired lock');
    for (let woken = 0; woken < n && this._wakeOldest(-1); woken++);
  }

  /**
   * @internal Wakes the oldest waiter (other than the one at `except`); false when none
   * waits. The slot of a thread stopped while it waited is freed and skipped: a notify
   * is never spent on the dead.
   */
  _wakeOldest(except: number): boolean {
    const s = this._state;
    for (;;) {
      let oldest = -1;
      // Tickets are int32 and wrap after 2**31 waits: compared as a difference in int32, as a sequence number is.
      for (let i = 0; i < MAX_CONDITION_WAITERS; i++) {
        const slot = slotAt(i);
        if (slot !== except && Atomics.load(s, slot) === WAITING && (oldest < 0 || ((s[ticketOf(slot)]! - s[ticketOf(oldest)]!) | 0) < 0)) oldest = slot;
      }
      if (oldest < 0) return false;
      if (isOwnerGone(Atomics.load(s, ownerOf(oldest)))) {
        Atomics.compareExchange(s, oldest, WAITING, FREE);
        continue;
      }
      // A waiter whose time just ran out may free its slot first; then it is not woken, and the next is.
      if (Atomics.compareExchange(s, oldest, WAITING, NOTIFIED) === WAITING) {
        wake(s, oldest, 1);
        return true;
      }
    }
  }

  /**
   * @internal A notification given to a waiter whose thread was then stopped (before it
   * woke and freed its slot) would be lost: the waiter at `slot` takes it over, or, if
   * it was notified itself meanwhile, passes it on to the oldest other waiter.
   */
  _inherit(slot: number): void {
    const s = this._state;
    for (let i = 0; i < MAX_CONDITION_WAITERS; i++) {
      const dead = slotAt(i);
      if (dead === slot || Atomics.load(s, dead) !== NOTIFIED || !isOwnerGone(Atomics.load(s, ownerOf(dead)))) continue;
      if (Atomics.compareExchange(s, dead, NOTIFIED, FREE) !== NOTIFIED) continue;
      if (Atomics.compareExchange(s, slot, WAITING, NOTIFIED) === WAITING) return;
      this._wakeOldest(slot);
      return;
    }
  }

  /** Wakes every waiting thread. The lock must be held. */
  notifyAll(): void {
    this.notify(MAX_CONDITION_WAITERS);
  }

  /**
   * @internal Claims a waiter slot for `owner`; the caller holds the lock. A slot left
   * by a thread that was stopped while waiting (or before it freed a notified slot) is
   * taken back when no slot is free.
   */
  _claim(owner: number): number {
    const s = this._state;
    for (let sweep = 0; sweep < 2; sweep++) {
      for (let i = 0; i < MAX_CONDITION_WAITERS; i++) {
        const slot = slotAt(i);
        if (Atomics.load(s, slot) !== FREE) continue;
        s[ticketOf(slot)] = Atomics.add(s, TICKET, 1);
        Atomics.store(s, ownerOf(slot), owner);
        if (Atomics.compareExchange(s, slot, FREE, WAITING) === FREE) return slot;
      }
      for (let i = 0; i < MAX_CONDITION_WAITERS; i++) {
        const slot = slotAt(i);
        const state = Atomics.load(s, slot);
        if (state !== FREE && isOwnerGone(Atomics.load(s, ownerOf(slot)))) Atomics.compareExchange(s, slot, state, FREE);
      }
    }
    throw new Error(
      `more than ${MAX_CONDITION_WAITERS} waiters on one Condition: its waiters, threads and coroutines alike, ` +
        `each hold one of its ${MAX_CONDITION_WAITERS} slots of shared memory while they wait, and no more can wait at once ` +
        '(Python has no such limit). Have fewer wait on it at once, or split them over several Conditions',
    );
  }
}

registerShared('Condition', Condition);
