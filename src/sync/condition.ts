import { describe } from '../futures/future.js';
import { RLock, type SemLock } from './semlock.js';
import { deadlineOf, remaining, runAsync, runSync, wake, type WaitSteps } from './waiting.js';
import { brandInstance, registerShared } from './shared.js';

/** Most threads that can wait on one Condition at once. */
export const MAX_CONDITION_WAITERS = 256;

// Layout: [nextTicket, then per waiter slot: state, ticket]. A waiter claims a free
// slot while holding the lock (so claims never race), sleeps on its own slot, and
// notify(n) wakes the n oldest tickets: exactly n, first come first served.
const TICKET = 0;
const FREE = 0;
const WAITING = 1;
const NOTIFIED = 2;
const slotAt = (i: number): number => 1 + 2 * i;

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
    this._state = new Int32Array(new SharedArrayBuffer(4 * (1 + 2 * MAX_CONDITION_WAITERS)));
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

  /** @internal The wait, for either driver. */
  *_waitSteps(timeout: number | undefined, owner?: number): WaitSteps<boolean> {
    const deadline = deadlineOf(timeout);
    const slot = this._claim(owner);
    const depth = this.lock._releaseAll(owner);
    try {
      const s = this._state;
      while (Atomics.load(s, slot) === WAITING) {
        const woke: boolean = yield { view: s, index: slot, expected: WAITING, deadline };
        if (!woke && Atomics.compareExchange(s, slot, WAITING, FREE) === WAITING) return false;
      }
      Atomics.store(s, slot, FREE);
      return true;
    } finally {
      yield* this.lock._acquireSteps({}, owner);
      this.lock._restore(depth);
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

  /** @internal `notify` on behalf of `owner`. */
  _notify(n: number, owner?: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer >= 0, got ${describe(n)}`);
    if (!this.lock._isOwned(owner)) throw new Error('cannot notify on un-acquired lock');
    const s = this._state;
    for (let woken = 0; woken < n; woken++) {
      let oldest = -1;
      for (let i = 0; i < MAX_CONDITION_WAITERS; i++) {
        if (Atomics.load(s, slotAt(i)) === WAITING && (oldest < 0 || s[slotAt(i) + 1]! - s[slotAt(oldest) + 1]! < 0)) oldest = i;
      }
      if (oldest < 0) return;
      // A waiter whose time just ran out may free its slot first; then it is not woken and not counted.
      if (Atomics.compareExchange(s, slotAt(oldest), WAITING, NOTIFIED) === WAITING) wake(s, slotAt(oldest), 1);
      else woken--;
    }
  }

  /** Wakes every waiting thread. The lock must be held. */
  notifyAll(): void {
    this.notify(MAX_CONDITION_WAITERS);
  }

  /** @internal Claims a waiter slot; the caller holds the lock. */
  _claim(owner?: number): number {
    if (!this.lock._isOwned(owner)) throw new Error('cannot wait on un-acquired lock');
    const s = this._state;
    for (let i = 0; i < MAX_CONDITION_WAITERS; i++) {
      if (Atomics.compareExchange(s, slotAt(i), FREE, WAITING) === FREE) {
        s[slotAt(i) + 1] = Atomics.add(s, TICKET, 1);
        return slotAt(i);
      }
    }
    throw new Error(`more than ${MAX_CONDITION_WAITERS} threads wait on one Condition`);
  }
}

registerShared('Condition', Condition);
