/**
 * Lock, RLock, Semaphore and BoundedSemaphore (the bases and the scoped forms are in
 * lock-base.ts). Death of a holder: a Lock or RLock held by a thread that was stopped
 * is taken over by the next acquirer, which `ownerDied` tells; a Semaphore's permits
 * are never given back (a semaphore may be a signal, not a lock).
 */
import { describe } from '../futures/future.js';
import { runAsync, runSync, type WaitSteps } from './waiting.js';
import { registerShared } from './shared.js';
import { beforePublish } from './publish.js';
import { ME, REMOTE_OWNER_BASE } from './owner.js';
import { currentCtx, enterNow, findCtx, gaveLock, handed, handToCaller, newCtx, tookLock, type Ctx } from './coroutine-context.js';
import {
  checkOptions,
  COUNT,
  CTX,
  DIED,
  HOLDER,
  HolderLock,
  NO_WAIT_OPTIONS,
  OWNER_BITS,
  releaser,
  SemLock,
  VALUE,
  wakeHolderWaiter,
  type AcquireOptions,
  type Saved,
  type Who,
} from './lock-base.js';

export { REMOTE_OWNER_BASE, SemLock, HolderLock };
export { withLock, hold, holdSync, type AcquireOptions, type Acquirable } from './lock-base.js';

/** Spins a lock with a waiter count of 0 tries before it sleeps: most critical sections end sooner than a futex round trip. */
const SPINS = 100;

/** Tries to take a held Lock for a moment before its caller sleeps (a Lock is not fair, as Python's is not). */
function spinTake(s: Int32Array): boolean {
  for (let i = 0; i < SPINS; i++) {
    if (Atomics.load(s, HOLDER) === 0 && Atomics.compareExchange(s, HOLDER, 0, ME) === 0) return true;
  }
  return false;
}

/**
 * A mutual-exclusion lock: threading.Lock. Any thread may release it. It records the
 * thread that took it, so a holder that dies does not wedge it (see `ownerDied`).
 */
export class Lock extends HolderLock {
  constructor() {
    super();
  }
  // Uncontended, taking and giving back are one atomic operation each.
  override acquire(options: AcquireOptions = NO_WAIT_OPTIONS): Promise<boolean> {
    if (options === NO_WAIT_OPTIONS && Atomics.compareExchange(this._state, HOLDER, 0, ME) === 0) return Promise.resolve(true);
    return runAsync(this._takeSteps(options, ME, undefined, 1));
  }
  override acquireSync(options: AcquireOptions = NO_WAIT_OPTIONS): boolean {
    if (options === NO_WAIT_OPTIONS && (Atomics.compareExchange(this._state, HOLDER, 0, ME) === 0 || spinTake(this._state))) return true;
    return runSync(this._takeSteps(options, ME, undefined, 1));
  }
  override release(): void {
    beforePublish();
    const s = this._state;
    if (Atomics.exchange(s, HOLDER, 0) === 0) throw this.overRelease();
    wakeHolderWaiter(s);
  }
  /** @internal */
  override *_acquireSteps(options: AcquireOptions, owner?: number): WaitSteps<boolean> {
    return yield* this._takeSteps(options, owner ?? ME, undefined, 1);
  }
  /** @internal */
  override _release(n: number, _owner: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${describe(n)}`);
    if (n > 1) throw this.overRelease();
    this.release();
  }
  /** @internal */
  override _tryTake(): boolean {
    return Atomics.compareExchange(this._state, HOLDER, 0, ME) === 0;
  }
  /**
   * @internal Frees the lock if `owner` holds it (a holder that is gone, for the proxy
   * broker); false if it does not, because someone released it meanwhile (any thread
   * may) and perhaps took it since.
   */
  _releaseIfHeldBy(owner: number): boolean {
    const s = this._state;
    for (const word of [owner, owner | DIED]) {
      if (Atomics.compareExchange(s, HOLDER, word, 0) === word) {
        wakeHolderWaiter(s);
        return true;
      }
    }
    return false;
  }
  /** @internal A Lock has no owner to check: held counts, as Python's Condition does. */
  override _owns(_who: Who): boolean {
    return this.locked();
  }
  /** @internal */
  override _releaseFully(_who: Who): Saved {
    this.release();
    return { depth: 1, ctx: undefined };
  }
  /** @internal */
  override *_retakeSteps(_saved: Saved, who: Who): WaitSteps<boolean> {
    return yield* this._takeSteps({}, who.owner, undefined, 1);
  }
  /** @internal */
  _took(): void {}
  protected overRelease(): Error {
    return new Error('release unlocked lock');
  }
}

/**
 * A re-entrant lock: threading.RLock. Its owner is a thread and, in that thread, an
 * async context (see coroutine-context.ts): coroutines of one thread exclude each other
 * as threads do, and one coroutine (with the functions it calls) may take it again.
 * Only the owner releases it.
 */
export class RLock extends HolderLock {
  constructor() {
    super();
  }
  override acquire(options: AcquireOptions = NO_WAIT_OPTIONS): Promise<boolean> {
    return this._acquireAsync(options);
  }
  override acquireSync(options: AcquireOptions = NO_WAIT_OPTIONS): boolean {
    // Checked before a re-entry too: bad options are refused whoever calls, as Python's.
    if (options !== NO_WAIT_OPTIONS) checkOptions(options);
    if (this._reenter()) return true;
    if ((Atomics.load(this._state, HOLDER) & OWNER_BITS) === ME && options.blocking !== false) {
      throw new Error(
        'RLock.acquireSync: the lock is held by another coroutine of this thread, which cannot run while this one blocks (the event loop would freeze); use `await acquire()`',
      );
    }
    const ctx = newCtx();
    enterNow(ctx);
    if (options === NO_WAIT_OPTIONS && this._takeFrom(0, ME, ctx, 1)) return true;
    return runSync(this._takeSteps(options, ME, ctx, 1));
  }
  override release(): void {
    this._releaseFor({ owner: ME, ctx: currentCtx() });
  }
  /** Acquires and returns a handle that releases on `using`/`await using` exit; the code after the await owns the lock. */
  override hold(options?: AcquireOptions): Promise<Disposable & AsyncDisposable> {
    return this._acquireAsync(options ?? NO_WAIT_OPTIONS).then((got) => {
      if (!got) throw new Error('could not acquire within the timeout');
      return releaser(this);
    });
  }
  /** @internal `acquire`: a fresh context, handed to the caller's await of this promise (or of what wraps it). */
  _acquireAsync(options: AcquireOptions): Promise<boolean> {
    if (options !== NO_WAIT_OPTIONS) {
      try {
        checkOptions(options);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this._reenter()) return Promise.resolve(true);
    const ctx = newCtx();
    const taken = options === NO_WAIT_OPTIONS && this._takeFrom(0, ME, ctx, 1);
    // Just before the promise is made: it is the first resource to pass the context on.
    handToCaller(ctx);
    const got = taken ? Promise.resolve(true) : runAsync(this._takeSteps(options, ME, ctx, 1));
    handed();
    return got;
  }
  /** @internal */
  override *_acquireSteps(options: AcquireOptions, owner?: number): WaitSteps<boolean> {
    const who = this._whoFor(owner);
    if (this._holder(who) !== false) {
      checkOptions(options);
      this._state[COUNT]!++;
      return true;
    }
    let ctx: Ctx | undefined;
    if (owner === undefined) enterNow((ctx = newCtx()));
    return yield* this._takeSteps(options, who.owner, ctx, 1);
  }
  /** @internal Releases once (RLock.release takes no count) on behalf of `owner`. */
  override _release(n: number, owner: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${describe(n)}`);
    this._releaseFor(this._whoFor(owner));
  }
  /** @internal */
  _releaseFor(who: Who): void {
    const s = this._state;
    const ctx = this._holder(who);
    if (ctx === false) throw this.overRelease();
    if (--s[COUNT]! > 0) return;
    this._giveBack(ctx);
  }
  /** @internal A remote caller is its explicit owner id; code of this thread is ME in its current async context. */
  override _whoFor(owner?: number): Who {
    return owner === undefined ? { owner: ME, ctx: currentCtx() } : { owner, ctx: undefined };
  }
  /**
   * @internal The context through which `who` holds the lock (its own, or one it
   * descends from), undefined when it holds it with none (a remote caller), or false
   * when it does not hold it.
   */
  _holder(who: Who): Ctx | undefined | false {
    const s = this._state;
    if ((Atomics.load(s, HOLDER) & OWNER_BITS) !== who.owner) return false;
    const id = s[CTX]!;
    if (id === 0) return undefined;
    return (who.owner === ME && findCtx(who.ctx, id)) || false;
  }
  /** @internal For Condition: true if `who` holds it (a coroutine: through its async context, as a thread does). */
  override _owns(who: Who): boolean {
    return this._holder(who) !== false;
  }
  /** @internal Re-enters if the caller holds it. */
  _reenter(): boolean {
    if (this._holder({ owner: ME, ctx: currentCtx() }) === false) return false;
    this._state[COUNT]!++;
    return true;
  }
  /** @internal */
  override _tryTake(): boolean {
    if (this._reenter()) return true;
    if (this.locked()) return false;
    const ctx = newCtx();
    enterNow(ctx);
    return this._takeFrom(0, ME, ctx, 1);
  }
  /** @internal */
  _took(ctx: Ctx | undefined, depth: number): void {
    const s = this._state;
    s[CTX] = ctx === undefined ? 0 : ctx.id;
    s[COUNT] = depth;
    if (ctx !== undefined) tookLock(ctx);
  }
  /** @internal Frees the lock, its depth already 0; `ctx` (if any) gives up its holding. */
  _giveBack(ctx: Ctx | undefined): void {
    if (ctx !== undefined) gaveLock(ctx);
    this._state[CTX] = 0;
    this._free();
  }
  /** @internal */
  override _releaseFully(who: Who): Saved {
    const s = this._state;
    const ctx = this._holder(who);
    if (ctx === false) throw this.overRelease();
    const depth = s[COUNT]!;
    s[COUNT] = 0;
    this._giveBack(ctx);
    return { depth, ctx };
  }
  /** @internal Takes the lock back for the same context at the same depth: after a wait it is never a re-entry. */
  override *_retakeSteps(saved: Saved, who: Who): WaitSteps<boolean> {
    return yield* this._takeSteps({}, who.owner, saved.ctx, saved.depth);
  }
  /** @internal */
  override _restore(depth: number, owner?: number): void {
    if (this._owns(this._whoFor(owner))) this._state[COUNT] = depth;
  }
  protected overRelease(): Error {
    return new Error('cannot release un-acquired lock');
  }
}

/** The most permits a Semaphore holds (an int32 word, as multiprocessing's SEM_VALUE_MAX). */
const SEMAPHORE_MAX = 2 ** 31 - 1;

/** A counter of permits: threading.Semaphore. A permit is never given back for a holder that died (a semaphore may be a signal). */
export class Semaphore extends SemLock {
  constructor(value = 1) {
    // The permits are one int32 of shared memory: a larger value would wrap.
    if (!Number.isInteger(value) || value < 0 || value > SEMAPHORE_MAX) {
      throw new RangeError(`semaphore initial value must be an integer >= 0 and at most ${SEMAPHORE_MAX}, got ${describe(value)}`);
    }
    super(value, SEMAPHORE_MAX);
  }
  /** Permits available now. */
  get value(): number {
    return Atomics.load(this._state, VALUE);
  }
  protected overRelease(): Error {
    return new RangeError('semaphore value overflow');
  }
}

/** A Semaphore that refuses to be released above its initial value: threading.BoundedSemaphore. */
export class BoundedSemaphore extends Semaphore {
  constructor(value = 1) {
    super(value);
    (this as { _max: number })._max = value;
  }
  protected override overRelease(): Error {
    return new RangeError('Semaphore released too many times');
  }
}

registerShared('Lock', Lock);
registerShared('RLock', RLock);
registerShared('Semaphore', Semaphore);
registerShared('BoundedSemaphore', BoundedSemaphore);
