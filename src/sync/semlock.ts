import { threadId } from 'node:worker_threads';
import { checkTimeout, describe } from '../futures/future.js';
import { deadlineOf, runAsync, runSync, wake, type WaitSteps } from './waiting.js';
import { brandInstance, registerShared } from './shared.js';

/** Options of `acquire`: `blocking: false` tries once; `timeout` (ms) bounds the wait. */
export interface AcquireOptions {
  blocking?: boolean;
  timeout?: number;
}

// Slots of the Int32Array every SemLock keeps in its SharedArrayBuffer.
const VALUE = 0; // permits available
const WAITERS = 1; // threads sleeping on VALUE (so release can skip notify)
const OWNER = 2; // RLock: owning thread + 1, 0 when free
const COUNT = 3; // RLock: recursion depth
const SLOTS = 4;

/** The default options object, recognised so that the uncontended path checks nothing. */
const NO_WAIT_OPTIONS: AcquireOptions = Object.freeze({});

/**
 * This thread's owner id: worker_threads' threadId, never 0. Callers in other
 * processes, served by the owner's broker thread, get ids from REMOTE_OWNER_BASE up.
 */
const ME = threadId + 1;

/** The first owner id the proxy broker gives a remote caller (threadIds stay far below it). */
export const REMOTE_OWNER_BASE = 2 ** 30;

/**
 * The one base of Lock, RLock, Semaphore and BoundedSemaphore, as CPython's SemLock:
 * a counter of permits in shared memory. Behaviour differs only in the bound and in
 * ownership; waiting and waking is the shared mechanism of waiting.ts.
 */
export abstract class SemLock {
  /** @internal Shared state; a public field so a structured clone carries it into a thread. */
  readonly _state: Int32Array;
  /** @internal Most permits (Infinity for none). */
  readonly _max: number;
  /** @internal Owned and re-entrant (RLock). */
  readonly _recursive: boolean;

  protected constructor(value: number, max: number, recursive: boolean, state?: Int32Array) {
    // No #private members here or below: a clone revived in a thread must pass every brand check.
    brandInstance(this, new.target);
    this._state = state ?? new Int32Array(new SharedArrayBuffer(SLOTS * 4));
    if (state === undefined) this._state[VALUE] = value;
    this._max = max;
    this._recursive = recursive;
  }

  /** Takes one permit, waiting as the options allow; true if it was taken. */
  acquire(options: AcquireOptions = NO_WAIT_OPTIONS): Promise<boolean> {
    // Uncontended, it is taken at once: no generator, no extra promise hop.
    if (options === NO_WAIT_OPTIONS && (this._reenter() || this._tryTake())) return Promise.resolve(true);
    return runAsync(this._acquireSteps(options));
  }

  /** `acquire`, blocking this thread (for CPU-bound worker code). */
  acquireSync(options: AcquireOptions = NO_WAIT_OPTIONS): boolean {
    if (options === NO_WAIT_OPTIONS && (this._reenter() || this._tryTake())) return true;
    return runSync(this._acquireSteps(options));
  }

  /** @internal The acquire loop, for either driver (and for Condition re-acquiring its lock). */
  *_acquireSteps(options: AcquireOptions, owner = ME): WaitSteps<boolean> {
    const { blocking = true, timeout } = options;
    if (!blocking && timeout !== undefined) throw new RangeError("can't specify a timeout for a non-blocking call");
    checkTimeout(timeout);
    if (this._reenter(owner) || this._tryTake(owner)) return true;
    if (!blocking) return false;
    const deadline = deadlineOf(timeout);
    const s = this._state;
    Atomics.add(s, WAITERS, 1);
    try {
      for (;;) {
        if (this._tryTake(owner)) return true;
        const woke: boolean = yield { view: s, index: VALUE, expected: 0, deadline };
        if (!woke && !this._tryTake(owner)) return false;
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
  _release(n: number, owner: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${describe(n)}`);
    const s = this._state;
    if (this._recursive) {
      if (Atomics.load(s, OWNER) !== owner) throw new Error('cannot release un-acquired lock');
      if (--s[COUNT]! > 0) return;
      Atomics.store(s, OWNER, 0);
    }
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
  _reenter(owner = ME): boolean {
    if (!this._recursive) return false;
    const s = this._state;
    if (Atomics.load(s, OWNER) !== owner) return false;
    s[COUNT]!++;
    return true;
  }

  /** @internal */
  _tryTake(owner = ME): boolean {
    const s = this._state;
    for (;;) {
      const v = Atomics.load(s, VALUE);
      if (v <= 0) return false;
      if (Atomics.compareExchange(s, VALUE, v, v - 1) === v) {
        if (this._recursive) {
          Atomics.store(s, OWNER, owner);
          s[COUNT] = 1;
        }
        return true;
      }
    }
  }

  /** @internal For Condition: releases an RLock fully, returning its depth. */
  _releaseAll(owner = ME): number {
    if (!this._recursive) {
      this._release(1, owner);
      return 1;
    }
    const s = this._state;
    if (Atomics.load(s, OWNER) !== owner) throw new Error('cannot release un-acquired lock');
    const depth = s[COUNT]!;
    s[COUNT] = 1;
    this._release(1, owner);
    return depth;
  }

  /** @internal For Condition: restores the depth `_releaseAll` returned, after re-acquiring. */
  _restore(depth: number): void {
    if (this._recursive) this._state[COUNT] = depth;
  }

  /** @internal True if this thread may wait on a Condition using this lock. */
  _isOwned(owner = ME): boolean {
    return this._recursive ? Atomics.load(this._state, OWNER) === owner : Atomics.load(this._state, VALUE) === 0;
  }
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

function releaser(lock: Acquirable): Disposable & AsyncDisposable {
  let done = false;
  const release = (): void => {
    if (!done) {
      done = true;
      lock.release();
    }
  };
  return { [Symbol.dispose]: release, [Symbol.asyncDispose]: async () => release() };
}

/** A mutual-exclusion lock: threading.Lock. Any thread may release it. */
export class Lock extends SemLock {
  constructor() {
    super(1, 1, false);
  }
  /** True while held. */
  locked(): boolean {
    return Atomics.load(this._state, VALUE) === 0;
  }
  // A lock's value is only ever 0 or 1, so taking and giving back are one CAS each.
  override acquire(options: AcquireOptions = NO_WAIT_OPTIONS): Promise<boolean> {
    if (options === NO_WAIT_OPTIONS && Atomics.compareExchange(this._state, VALUE, 1, 0) === 1) return Promise.resolve(true);
    return super.acquire(options);
  }
  override acquireSync(options: AcquireOptions = NO_WAIT_OPTIONS): boolean {
    if (options === NO_WAIT_OPTIONS && Atomics.compareExchange(this._state, VALUE, 1, 0) === 1) return true;
    return super.acquireSync(options);
  }
  override release(): void {
    const s = this._state;
    if (Atomics.compareExchange(s, VALUE, 0, 1) !== 0) throw this.overRelease();
    if (Atomics.load(s, WAITERS) > 0) wake(s, VALUE, 1);
  }
  protected overRelease(): Error {
    return new Error('release unlocked lock');
  }
}

/** A re-entrant lock: threading.RLock. Only the owning thread may release it. */
export class RLock extends SemLock {
  constructor() {
    super(1, 1, true);
  }
  /** True while some thread holds it. */
  locked(): boolean {
    return Atomics.load(this._state, VALUE) === 0;
  }
  override release(): void {
    super.release(1);
  }
  protected overRelease(): Error {
    return new Error('cannot release un-acquired lock');
  }
}

/** A counter of permits: threading.Semaphore. */
export class Semaphore extends SemLock {
  constructor(value = 1) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`semaphore initial value must be an integer >= 0, got ${describe(value)}`);
    super(value, 2 ** 31 - 1, false);
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
