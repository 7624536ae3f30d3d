/**
 * The shared base of the locks and semaphores: SemLock (a counter, as CPython's),
 * HolderLock (a lock that records its holder), and the scoped forms.
 */
import { checkTimeout, describe } from '../futures/future.js';
import { deadlineOf, runAsync, runSync, wake, type WaitSteps } from './waiting.js';
import { brandInstance } from './shared.js';
import { sharedWords } from './shm.js';
import { beforePublish } from './publish.js';
import { DEAD_REMOTE, isOwnerDead, isOwnerGone, ME } from './owner.js';
import type { Ctx } from './coroutine-context.js';

/** Options of `acquire`: `blocking: false` tries once; `timeout` (ms) bounds the wait. */
export interface AcquireOptions {
  blocking?: boolean;
  timeout?: number;
}

// Slots of the Int32Array every SemLock keeps in its SharedArrayBuffer.
/** @internal Semaphore: permits available. */
export const VALUE = 0;
/** @internal Lock, RLock: the holder's owner id (0 when free), with DIED set after a take-over. */
export const HOLDER = 0;
/** @internal Threads and coroutines sleeping on slot 0 (so release can skip notify). */
export const WAITERS = 1;
/** @internal RLock: recursion depth. */
export const COUNT = 2;
/** @internal RLock: the holder's async context in its thread (0 for a remote caller). */
export const CTX = 3;
/** @internal Lock, RLock: 1 while a woken waiter has not yet looked (later releases need not wake another). */
export const WOKEN = 4;
const SLOTS = 5;

/** @internal In HOLDER: this holding was taken over from a holder that died holding the lock. */
export const DIED = 1 << 31;
/** @internal The owner id in HOLDER. */
export const OWNER_BITS = ~DIED;

/** How long a lock stays with a holder that is being stopped but has not exited yet. */
const STOPPING_GRACE_MS = 100;

/** @internal The default options object, recognised so that the uncontended path checks nothing. */
export const NO_WAIT_OPTIONS: AcquireOptions = Object.freeze({});

/** Who acts: an owner id, and for code of this thread the async context it runs in. */
export interface Who {
  readonly owner: number;
  readonly ctx: Ctx | undefined;
}

/** What a Condition keeps of a lock it released for a wait, to take it back as it was. */
export interface Saved {
  readonly depth: number;
  readonly ctx: Ctx | undefined;
}

/** @internal Validates acquire options; the deadline they give. */
export function checkOptions(options: AcquireOptions): { blocking: boolean; deadline: number } {
  const { blocking = true, timeout } = options;
  if (!blocking && timeout !== undefined) throw new RangeError("can't specify a timeout for a non-blocking call");
  checkTimeout(timeout);
  return { blocking, deadline: deadlineOf(timeout) };
}

/**
 * The one base of Lock, RLock, Semaphore and BoundedSemaphore, as CPython's SemLock:
 * shared memory that waiting.ts waits on. A Semaphore counts permits; a Lock and an
 * RLock record their holder (see HolderLock). The methods with a leading underscore
 * act for an explicit owner id: the proxy broker calls them for callers in other
 * processes (ids from REMOTE_OWNER_BASE up), and Condition calls them.
 */
export abstract class SemLock {
  /** @internal Shared state; a public field so a structured clone carries it into a thread. */
  readonly _state: Int32Array;
  /** @internal Most permits (Infinity for none). */
  readonly _max: number;

  protected constructor(value: number, max: number) {
    // No #private members here or below: a clone revived in a thread must pass every brand check.
    brandInstance(this, new.target);
    this._state = sharedWords(SLOTS);
    this._state[VALUE] = value;
    this._max = max;
  }

  /** Takes one permit, waiting as the options allow; true if it was taken. */
  acquire(options: AcquireOptions = NO_WAIT_OPTIONS): Promise<boolean> {
    // Uncontended, it is taken at once: no generator, no extra promise hop.
    if (options === NO_WAIT_OPTIONS && this._tryTake()) return Promise.resolve(true);
    return runAsync(this._acquireSteps(options));
  }

  /** `acquire`, blocking this thread (for CPU-bound worker code). */
  acquireSync(options: AcquireOptions = NO_WAIT_OPTIONS): boolean {
    if (options === NO_WAIT_OPTIONS && this._tryTake()) return true;
    return runSync(this._acquireSteps(options));
  }

  /** @internal The acquire loop for either driver, on behalf of `owner` (default: the caller). */
  *_acquireSteps(options: AcquireOptions, _owner?: number): WaitSteps<boolean> {
    const { blocking, deadline } = checkOptions(options);
    if (this._tryTake()) return true;
    if (!blocking) return false;
    const s = this._state;
    Atomics.add(s, WAITERS, 1);
    try {
      for (;;) {
        if (this._tryTake()) return true;
        const woke: boolean = yield { view: s, index: VALUE, expected: 0, deadline };
        // Out of time: one last try, and its answer is the call's (a permit taken here
        // must be reported, and the loop must not go round to take a second one).
        if (!woke) return this._tryTake();
      }
    } finally {
      Atomics.sub(s, WAITERS, 1);
    }
  }

  /** Gives back `n` permits (1 for locks), waking as many waiters. */
  release(n = 1): void {
    this._release(n, ME);
  }

  /** @internal `release` on behalf of `owner`. */
  _release(n: number, _owner: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${describe(n)}`);
    beforePublish();
    const s = this._state;
    for (;;) {
      const v = Atomics.load(s, VALUE);
      if (v + n > this._max) throw this.overRelease();
      if (Atomics.compareExchange(s, VALUE, v, v + n) === v) break;
    }
    if (Atomics.load(s, WAITERS) > 0) wake(s, VALUE, n);
  }

  /** Acquires, runs `fn`, and releases even if it throws. */
  withLock<T>(fn: () => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    return withLock(this, fn, options);
  }

  /** Acquires and returns a handle that releases on `using`/`await using` exit. */
  hold(options?: AcquireOptions): Promise<Disposable & AsyncDisposable> {
    return hold(this, options);
  }

  /** `hold`, blocking this thread. */
  holdSync(options?: AcquireOptions): Disposable {
    return holdSync(this, options);
  }

  /** The error for releasing past the bound. */
  protected abstract overRelease(): Error;

  /** @internal */
  _tryTake(): boolean {
    const s = this._state;
    for (;;) {
      const v = Atomics.load(s, VALUE);
      if (v <= 0) return false;
      if (Atomics.compareExchange(s, VALUE, v, v - 1) === v) return true;
    }
  }

  /** @internal Who `owner` is: an explicit owner id (a remote caller), or this thread in its current async context. */
  _whoFor(owner?: number): Who {
    return { owner: owner ?? ME, ctx: undefined };
  }

  /** @internal True if `who` may wait on and notify a Condition using this lock (for a counter: none is left). */
  _owns(_who: Who): boolean {
    return Atomics.load(this._state, VALUE) === 0;
  }

  /** @internal True if `owner` (default: the caller) may wait on a Condition using this lock. */
  _isOwned(owner?: number): boolean {
    return this._owns(this._whoFor(owner));
  }

  /** @internal For Condition: releases the lock fully for `who`; what to take back. */
  _releaseFully(who: Who): Saved {
    this._release(1, who.owner);
    return { depth: 1, ctx: undefined };
  }

  /** @internal For Condition: takes the lock back as `_releaseFully` left it (never a re-entry). */
  *_retakeSteps(_saved: Saved, who: Who): WaitSteps<boolean> {
    return yield* this._acquireSteps({}, who.owner);
  }

  /** @internal Releases fully on behalf of `owner`, returning the depth to restore. */
  _releaseAll(owner?: number): number {
    return this._releaseFully(this._whoFor(owner)).depth;
  }

  /** @internal Restores the depth `_releaseAll` returned, after re-acquiring on behalf of `owner`. */
  _restore(_depth: number, _owner?: number): void {}
}

/**
 * A lock that records its holder in one word (0 when free): the holder's owner id, so
 * that a holder that died can be recognised (isOwnerGone) and its lock taken over. The
 * taker sets DIED in the word, which `ownerDied` reports until that holding ends (as
 * EOWNERDEAD tells a robust mutex's next owner). Waits sleep on the word itself.
 */
export abstract class HolderLock extends SemLock {
  protected constructor() {
    super(0, 1);
  }

  /** True while held (by a live holder or one that died holding it). */
  locked(): boolean {
    return Atomics.load(this._state, HOLDER) !== 0;
  }

  /**
   * True while the current holding was taken over from a thread that died holding the
   * lock (terminated, or stopped by its task's timeout): whatever it guarded may be half
   * updated. Reported to that one holding; it reads false again once released.
   */
  get ownerDied(): boolean {
    return Atomics.load(this._state, HOLDER) < 0;
  }

  /**
   * @internal Takes the lock afresh for `owner` in `ctx` at `depth`, waiting as the
   * options allow. A holder that has exited is taken over at once; one that is being
   * stopped keeps the lock for STOPPING_GRACE_MS, since it may still run an instruction
   * or two until its termination lands (waiting for its exit instead could wait for
   * ever: the thread that would see the exit may be the one blocked here).
   */
  *_takeSteps(options: AcquireOptions, owner: number, ctx: Ctx | undefined, depth: number): WaitSteps<boolean> {
    const { blocking, deadline } = checkOptions(options);
    const s = this._state;
    if (this._takeFrom(0, owner, ctx, depth)) return true;
    if (!blocking) return this._takeFromDead(owner, ctx, depth);
    let stopping = 0; // the holder word last seen held by a thread being stopped
    let stoppingSince = 0;
    Atomics.add(s, WAITERS, 1);
    try {
      for (;;) {
        const holder = Atomics.load(s, HOLDER);
        let until = deadline;
        if (holder === 0 || isOwnerDead(holder & OWNER_BITS)) {
          if (this._takeFrom(holder, owner, ctx, depth)) return true;
          continue;
        }
        if (isOwnerGone(holder & OWNER_BITS)) {
          const now = performance.now();
          if (stopping !== holder) {
            stopping = holder;
            stoppingSince = now;
          }
          if (now - stoppingSince >= STOPPING_GRACE_MS) {
            if (this._takeFrom(holder, owner, ctx, depth)) return true;
            continue;
          }
          until = Math.min(deadline, stoppingSince + STOPPING_GRACE_MS);
        }
        // About to sleep: the next release must wake someone. WOKEN may still be set by
        // a release that woke no one who will ever look (a waiter that was terminated, or
        // whose process died, stays counted in WAITERS), and then no release would wake
        // this sleeper: each hand-over would wait out its slice.
        if (Atomics.load(s, WOKEN) !== 0) Atomics.store(s, WOKEN, 0);
        const woke: boolean = yield { view: s, index: HOLDER, expected: holder, deadline: until };
        // Looked: the next release wakes someone again (the holder word is read after this).
        Atomics.store(s, WOKEN, 0);
        // False is "the time ran out", or, before `until`, "stop now" (the proxy broker
        // says so for a caller whose process is gone): reading the clock alone would
        // loop for ever on a stop.
        if (!woke && (until === deadline || performance.now() < until)) return this._takeFrom(0, owner, ctx, depth) || this._takeFromDead(owner, ctx, depth);
      }
    } finally {
      // Leaving without the lock (out of time) after a wake meant for someone: pass it on.
      if (Atomics.sub(s, WAITERS, 1) > 1 && (Atomics.load(s, HOLDER) === 0 || Atomics.load(s, HOLDER) === DEAD_REMOTE)) wakeHolderWaiter(s);
    }
  }

  /** @internal Takes the lock if its holder word is `from` (0: free; else a holder that died). */
  _takeFrom(from: number, owner: number, ctx: Ctx | undefined, depth: number): boolean {
    const to = from === 0 ? owner : owner | DIED;
    if (Atomics.compareExchange(this._state, HOLDER, from, to) !== from) return false;
    this._took(ctx, depth);
    return true;
  }

  /** @internal Takes the lock over if its holder has exited. */
  _takeFromDead(owner: number, ctx: Ctx | undefined, depth: number): boolean {
    const holder = Atomics.load(this._state, HOLDER);
    return holder !== 0 && isOwnerDead(holder & OWNER_BITS) && this._takeFrom(holder, owner, ctx, depth);
  }

  /**
   * @internal Leaves the lock to be taken over, as a holder that died does, if `owner`
   * (a remote caller the proxy broker found gone) still holds it: the next taker is
   * told, through ownerDied, that whatever it guarded may be half updated.
   */
  _abandonBy(owner: number): void {
    const s = this._state;
    for (const word of [owner, owner | DIED]) {
      if (Atomics.compareExchange(s, HOLDER, word, DEAD_REMOTE) === word) {
        wakeHolderWaiter(s);
        return;
      }
    }
  }

  /** @internal Records the new holding beyond the holder word (RLock: context and depth). */
  abstract _took(ctx: Ctx | undefined, depth: number): void;

  /** @internal Frees the holder word and wakes a waiter. */
  _free(): void {
    beforePublish();
    const s = this._state;
    Atomics.store(s, HOLDER, 0);
    wakeHolderWaiter(s);
  }
}

/**
 * @internal After a HolderLock's word was freed: wakes one sleeper, unless one woken
 * earlier has not looked yet (it will find the lock free or sleep again, and each of its
 * looks lets the next release wake). Without this, a holder that takes and releases
 * in a loop pays a futex wake per release while the woken waiter is still on its way.
 */
export function wakeHolderWaiter(s: Int32Array): void {
  if (Atomics.load(s, WAITERS) > 0 && Atomics.compareExchange(s, WOKEN, 0, 1) === 0) wake(s, HOLDER, 1);
}

/** What the scoped forms need of a lock: a proxy of one in another process has it too. */
export interface Acquirable {
  acquire(options?: AcquireOptions): Promise<boolean>;
  acquireSync(options?: AcquireOptions): boolean;
  release(): void;
}

/** Acquires `lock`, runs `fn`, and releases even if it throws. */
export async function withLock<T>(lock: Acquirable, fn: () => T | Promise<T>, options?: AcquireOptions): Promise<T> {
  if (!(await lock.acquire(options))) throw new Error('could not acquire within the timeout');
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Acquires `lock` and returns a handle that releases it on `using`/`await using` exit. */
export async function hold(lock: Acquirable, options?: AcquireOptions): Promise<Disposable & AsyncDisposable> {
  if (!(await lock.acquire(options))) throw new Error('could not acquire within the timeout');
  return releaser(lock);
}

/** `hold`, blocking this thread. */
export function holdSync(lock: Acquirable, options?: AcquireOptions): Disposable & AsyncDisposable {
  if (!lock.acquireSync(options)) throw new Error('could not acquire within the timeout');
  return releaser(lock);
}

/** @internal A handle that releases `lock` once, on `using`/`await using` exit. */
export function releaser(lock: Acquirable): Disposable & AsyncDisposable {
  let done = false;
  const release = (): void => {
    if (!done) {
      done = true;
      lock.release();
    }
  };
  return { [Symbol.dispose]: release, [Symbol.asyncDispose]: async () => release() };
}

