/**
 * Proxies: what a shared primitive becomes in another process. Each keeps the
 * interface of the primitive it stands for (`acquireSync` still blocks, `value` is
 * still a property) and forwards every call to the owner's broker. A proxy is plain
 * data (its reference) plus a registered class, so it crosses on into further threads
 * and processes and is revived there like any primitive.
 *
 * A call with a timeout ends by its caller's own deadline (the timeout plus
 * CALLER_GRACE_MS) even when the owner cannot answer: an acquire returns false, an
 * Event wait false, a get throws Empty, a Barrier wait BrokenBarrierError, and what the
 * owner grants after that is given back. A put with a timeout throws TimeoutError: it
 * may still land; or Full when the time ran out before it was sent, while the thread's
 * earlier puts were still landing. A Condition wait has no such bound: it returns holding the lock, and
 * re-acquiring the lock has no timeout (as in Python).
 */
import { BrokenBarrierError, Empty, Full, TimeoutError } from '../futures/errors.js';
import { toSharedMemory, type PipeCrossing } from '../sync/shm-crossing.js';
import { brandInstance, dataOf, kindOf, leaving, leavingWithin, registerShared, reviveWithin } from '../sync/shared.js';
import { hold, holdSync, withLock, type AcquireOptions } from '../sync/semlock.js';
import { waitFor, waitForSync } from '../sync/condition.js';
import { untilShutDown } from '../queues/until-shutdown.js';
import { orderKey } from '../queues/shared-stack.js';
import { checkStorable, holdsOf, type Holds } from '../sync/value.js';
import { bounded, callRemote, callRemoteSync, enqueue, enqueueSync, sendRemote, settle, settleSync, type Bound } from './client.js';
import { exportObject } from './owner.js';
import type { ProxyRef } from './protocol.js';

/** The base of every proxy: the reference to the owner's object. */
abstract class Remote {
  /** @internal Where the object lives. */
  readonly _ref: ProxyRef;
  constructor(ref: ProxyRef) {
    brandInstance(this, new.target);
    this._ref = ref;
  }
  /** @internal What a caller that waited `waited` for the owner to answer is told. */
  _noAnswer(waited: string): string {
    return `the process that owns this object (pid ${this._ref.pid}) did not answer within ${waited}`;
  }
}

/** An acquire the owner grants after its caller gave up is released. */
const GIVE_BACK = { op: 'giveBack', onlyIfTrue: true };
/** An item the owner hands over after its caller gave up goes back into the queue. */
const PUT_BACK = { op: 'putBack', onlyIfTrue: false };

/** A Lock, RLock, Semaphore or BoundedSemaphore of another process. */
class RemoteSemLock extends Remote {
  /** @internal Which kind it stands for. */
  readonly _kind: string;
  constructor(ref: ProxyRef, kind: string) {
    super(ref);
    this._kind = kind;
  }
  acquire(options: AcquireOptions = {}): Promise<boolean> {
    let bound: Bound | undefined;
    try {
      bound = this._bound(options);
    } catch (err) {
      return Promise.reject(err);
    }
    return callRemote(this._ref, 'acquire', [options], bound) as Promise<boolean>;
  }
  acquireSync(options: AcquireOptions = {}): boolean {
    return callRemoteSync(this._ref, 'acquire', [options], this._bound(options)) as boolean;
  }
  /** @internal A try (blocking: false) is bounded as a timeout of 0. */
  _bound(options: AcquireOptions): Bound | undefined {
    const timeout = options.blocking === false && options.timeout === undefined ? 0 : options.timeout;
    return bounded(timeout, () => false, GIVE_BACK);
  }
  release(n = 1): void {
    callRemoteSync(this._ref, 'release', [n]);
  }
  locked(): boolean {
    return callRemoteSync(this._ref, 'locked') as boolean;
  }
  get value(): number {
    return callRemoteSync(this._ref, 'value') as number;
  }
  withLock<T>(fn: () => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    return withLock(this, fn, options);
  }
  hold(options?: AcquireOptions): Promise<Disposable & AsyncDisposable> {
    return hold(this, options);
  }
  holdSync(options?: AcquireOptions): Disposable {
    return holdSync(this, options);
  }
}

/** A Condition of another process; its lock is a proxy too. */
class RemoteCondition extends Remote {
  readonly lock: RemoteSemLock;
  constructor(ref: ProxyRef, lock: RemoteSemLock) {
    super(ref);
    this.lock = lock;
  }
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.lock.acquire(options);
  }
  acquireSync(options?: AcquireOptions): boolean {
    return this.lock.acquireSync(options);
  }
  release(): void {
    this.lock.release();
  }
  wait(timeout?: number): Promise<boolean> {
    return callRemote(this._ref, 'wait', [timeout]) as Promise<boolean>;
  }
  waitSync(timeout?: number): boolean {
    return callRemoteSync(this._ref, 'wait', [timeout]) as boolean;
  }
  waitFor<T>(predicate: () => T, timeout?: number): Promise<T> {
    return waitFor(this, predicate, timeout);
  }
  waitForSync<T>(predicate: () => T, timeout?: number): T {
    return waitForSync(this, predicate, timeout);
  }
  notify(n = 1): void {
    callRemoteSync(this._ref, 'notify', [n]);
  }
  notifyAll(): void {
    callRemoteSync(this._ref, 'notifyAll');
  }
}

/** An Event of another process. */
class RemoteEvent extends Remote {
  set(): void {
    callRemoteSync(this._ref, 'set');
  }
  clear(): void {
    callRemoteSync(this._ref, 'clear');
  }
  isSet(): boolean {
    return callRemoteSync(this._ref, 'isSet') as boolean;
  }
  wait(timeout?: number): Promise<boolean> {
    let bound: Bound | undefined;
    try {
      bound = bounded(timeout, () => false);
    } catch (err) {
      return Promise.reject(err);
    }
    return callRemote(this._ref, 'wait', [timeout], bound) as Promise<boolean>;
  }
  waitSync(timeout?: number): boolean {
    return callRemoteSync(this._ref, 'wait', [timeout], bounded(timeout, () => false)) as boolean;
  }
}

/** A Barrier of another process. Its action, if any, runs in the owner. */
class RemoteBarrier extends Remote {
  readonly parties: number;
  constructor(ref: ProxyRef, parties: number) {
    super(ref);
    this.parties = parties;
  }
  wait(timeout?: number): Promise<number> {
    let bound: Bound | undefined;
    try {
      bound = this._bound(timeout);
    } catch (err) {
      return Promise.reject(err);
    }
    return callRemote(this._ref, 'wait', [timeout], bound) as Promise<number>;
  }
  waitSync(timeout?: number): number {
    return callRemoteSync(this._ref, 'wait', [timeout], this._bound(timeout)) as number;
  }
  /** @internal */
  _bound(timeout: number | undefined): Bound | undefined {
    return bounded(timeout, (waited) => {
      throw new BrokenBarrierError(this._noAnswer(waited));
    });
  }
  abort(): void {
    callRemoteSync(this._ref, 'abort');
  }
  reset(): void {
    callRemoteSync(this._ref, 'reset');
  }
  get broken(): boolean {
    return callRemoteSync(this._ref, 'broken') as boolean;
  }
  get nWaiting(): number {
    return callRemoteSync(this._ref, 'nWaiting') as number;
  }
}

/** A Value of another process: reading `value` asks the owner; writing it is sent in order. */
class RemoteValue extends Remote {
  /** @internal */
  readonly _lock: RemoteSemLock;
  /** @internal What its element type holds. */
  readonly _holds: Holds;
  /** @internal Its element type as it was given ('i', 'i32'), for errors. */
  readonly _type: string;
  constructor(ref: ProxyRef, lock: RemoteSemLock, holds: Holds, type: string) {
    super(ref);
    this._lock = lock;
    this._holds = holds;
    this._type = type;
  }
  get value(): number | bigint {
    return callRemoteSync(this._ref, 'get') as number | bigint;
  }
  set value(x: number | bigint) {
    // What the owner's store would refuse (a number for a bigint, 1.5 for an integer) throws
    // here, at the write, as it does in memory: sent on, it would fail the task later.
    checkStorable(this._type, this._holds, x);
    // Nothing to wait for: this thread's later calls reach the owner after it, and its
    // task or target is not done until it has landed.
    sendRemote(this._ref, 'set', [x]);
  }
  getLock(): RemoteSemLock {
    return this._lock;
  }
}

const proxiedArrays = new WeakMap<RemoteSharedArray, unknown>();

/** A SharedArray of another process: `.array` indexes, iterates and has a length. */
class RemoteSharedArray extends Remote {
  readonly length: number;
  /** @internal */
  readonly _lock: RemoteSemLock;
  /** @internal True for 'i64' and 'u64': its elements are bigints. */
  readonly _bigint: boolean;
  constructor(ref: ProxyRef, length: number, lock: RemoteSemLock, bigint: boolean) {
    super(ref);
    this.length = length;
    this._lock = lock;
    this._bigint = bigint;
  }
  get array(): ArrayLike<number | bigint> & Iterable<number | bigint> {
    let view = proxiedArrays.get(this);
    if (view === undefined) {
      const ref = this._ref;
      const length = this.length;
      const bigint = this._bigint;
      const index = (p: string | symbol): number => (typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : -1);
      view = new Proxy([], {
        get: (_t, p) => {
          if (p === 'length') return length;
          if (p === Symbol.iterator) return () => (callRemoteSync(ref, 'slice', [0, length]) as unknown[])[Symbol.iterator]();
          const i = index(p);
          return i >= 0 ? callRemoteSync(ref, 'get', [i]) : undefined;
        },
        set: (_t, p, x) => {
          const i = index(p);
          if (i < 0) return false;
          // As a typed array does: a value of the wrong kind throws at the write (sent on,
          // it would fail the task later); an index past the end is ignored.
          if (bigint) BigInt.asIntN(64, x as bigint);
          else +(x as number);
          if (i >= length) return true;
          sendRemote(ref, 'set', [i, x]);
          return true;
        },
      });
      proxiedArrays.set(this, view);
    }
    return view as ArrayLike<number | bigint> & Iterable<number | bigint>;
  }
  getLock(): RemoteSemLock {
    return this._lock;
  }
}

/**
 * A SharedQueue (or SharedLifoQueue, SharedPriorityQueue) of another process
 * (multiprocessing's JoinableQueue across processes): its owner keeps the order.
 * A put into an unbounded queue with no timeout does not wait for the owner's answer
 * (as multiprocessing.Queue's feeder thread): it goes into this thread's outbox, which
 * the helper ships in batches, in order; a failure (QueueShutDown) is thrown by this
 * thread's next call on the queue. Every other call first waits until this thread's
 * puts have landed, so it sees them.
 */
class RemoteSharedQueue<T = unknown> extends Remote {
  readonly maxsize: number;
  /** @internal The kind it stands for: a priority queue's items are checked here, before they travel. */
  readonly _kind: string;
  constructor(ref: ProxyRef, maxsize: number, kind = 'SharedQueue') {
    super(ref);
    this.maxsize = maxsize;
    this._kind = kind;
  }
  async put(item: T, options: { timeout?: number } = {}): Promise<void> {
    this._check(item);
    if (this.maxsize <= 0 && options.timeout === undefined) return enqueue(this._ref, item);
    await this._callAsync(this._putBound(options.timeout), 'put', [item, options.timeout], this._notPut(options.timeout));
  }
  putSync(item: T, options: { timeout?: number } = {}): void {
    this._check(item);
    if (this.maxsize <= 0 && options.timeout === undefined) return enqueueSync(this._ref, item);
    this._callBounded(this._putBound(options.timeout), 'put', [item, options.timeout], this._notPut(options.timeout));
  }
  putNowait(item: T): void {
    this._check(item);
    this._call('putNowait', item);
  }
  /**
   * @internal Throws the owner's TypeError for an item a priority queue can never order
   * (a put into an unbounded queue does not wait for the owner's answer). An item that
   * cannot be ordered with those already there is refused by the owner.
   */
  _check(item: T): void {
    if (this._kind === 'SharedPriorityQueue') orderKey(item);
    // Proxies in the item (a manager's) are kept alive here while it travels (onLeaving hooks).
    leavingWithin(item);
  }
  // An item's primitives and proxies come out as themselves, as a container's do.
  async get(options: { timeout?: number } = {}): Promise<T> {
    return reviveWithin((await this._callAsync(this._getBound(options.timeout), 'get', [options.timeout])) as T);
  }
  getSync(options: { timeout?: number } = {}): T {
    return reviveWithin(this._callBounded(this._getBound(options.timeout), 'get', [options.timeout]) as T);
  }
  getNowait(): T {
    return reviveWithin(this._callBounded(this._getBound(0), 'getNowait', []) as T);
  }
  qsize(): number {
    return this._call('qsize') as number;
  }
  empty(): boolean {
    return this._call('empty') as boolean;
  }
  full(): boolean {
    return this._call('full') as boolean;
  }
  taskDone(): void {
    this._call('taskDone');
  }
  async join(): Promise<void> {
    await settle(this._ref);
    await callRemote(this._ref, 'join');
  }
  joinSync(): void {
    this._call('join');
  }
  shutdown(options: { immediate?: boolean } = {}): void {
    this._call('shutdown', options);
  }
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return untilShutDown(() => this.get());
  }
  /** @internal Settles this thread's puts, then calls. */
  _call(op: string, ...args: unknown[]): unknown {
    settleSync(this._ref);
    return callRemoteSync(this._ref, op, args);
  }
  /**
   * @internal `_call` that gives up at `bound` (settling this thread's puts counts in its
   * time). Given up while settling, the call was never sent: `unsent` says so.
   */
  _callBounded(bound: Bound | undefined, op: string, args: unknown[], unsent = bound?.giveUp): unknown {
    if (!settleSync(this._ref, bound?.giveUpAt)) return unsent!();
    return callRemoteSync(this._ref, op, args, bound);
  }
  /** @internal `_callBounded` with the event loop free. */
  async _callAsync(bound: Bound | undefined, op: string, args: unknown[], unsent = bound?.giveUp): Promise<unknown> {
    if (!(await settle(this._ref, bound?.giveUpAt))) return unsent!();
    return callRemote(this._ref, op, args, bound);
  }
  /**
   * @internal A timed put whose time ran out while this thread's earlier puts were still
   * landing (the queue is full, or its owner is not answering): this item was not sent.
   */
  _notPut(timeout: number | undefined): () => never {
    return () => {
      throw new Full(`queue still full after ${timeout} ms: this thread's earlier puts had not all landed in the owner's queue (pid ${this._ref.pid}), so this item was not put`);
    };
  }
  /** @internal */
  _getBound(timeout: number | undefined): Bound | undefined {
    return bounded(
      timeout,
      (waited) => {
        throw new Empty(this._noAnswer(waited));
      },
      PUT_BACK,
    );
  }
  /** @internal */
  _putBound(timeout: number | undefined): Bound | undefined {
    return bounded(timeout, (waited) => {
      throw new TimeoutError(`${this._noAnswer(waited)}: the item may still be put once it does`);
    });
  }
}

// Names spelled out: a bundler may rename classes, and both sides must agree.
registerShared('RemoteSemLock', RemoteSemLock);
registerShared('RemoteCondition', RemoteCondition);
registerShared('RemoteEvent', RemoteEvent);
registerShared('RemoteBarrier', RemoteBarrier);
registerShared('RemoteValue', RemoteValue);
registerShared('RemoteSharedArray', RemoteSharedArray);
registerShared('RemoteSharedQueue', RemoteSharedQueue);

/** The proxy classes, for code that builds proxies of objects it serves itself (a manager's server). */
export { RemoteSemLock, RemoteCondition, RemoteEvent, RemoteBarrier, RemoteSharedQueue };

const isRemote = (kind: string | undefined): boolean => kind !== undefined && kind.startsWith('Remote');

const crossingHooks: Array<(proxy: object) => object | undefined> = [];

/**
 * Calls `hook` with each proxy on its way into another process (a Process's or a pool
 * task's argument, a Pipe message); what it returns, if anything, crosses instead of the
 * proxy's data (a copy carrying more, such as a manager's hold).
 */
export function onCrossing(hook: (proxy: object) => object | undefined): void {
  crossingHooks.push(hook);
}

/**
 * What a shared primitive becomes on its way into another process: a proxy served by
 * this process (its owner), or its memory's references where every process can map it.
 * A proxy stays itself. Anything else is returned as it is. A crossing down a Pipe
 * (`pipe`) has its memory kept here until the receiver has mapped it.
 */
export function toProxy<T>(value: T, memory = true, pipe?: PipeCrossing): T {
  const kind = kindOf(value);
  if (kind === undefined) return value;
  if (isRemote(kind)) {
    let form: object | undefined;
    for (const hook of crossingHooks) form = hook(value as object) ?? form;
    return (form ?? dataOf(value)) as T; // a view (a namespace's) crosses as its data
  }
  leaving([value]);
  // Memory every process maps, where it can: no owner in between.
  const inMemory = memory ? toSharedMemory(value as object, pipe) : undefined;
  if (inMemory !== undefined) return inMemory as T;
  const object = value as Record<string, any>;
  const ref = exportObject(object);
  switch (kind) {
    case 'Lock':
    case 'RLock':
    case 'Semaphore':
    case 'BoundedSemaphore':
      return new RemoteSemLock(ref, kind) as T;
    case 'Condition':
      // Its broker waits and notifies on behalf of remote owners: the lock must be served by it too.
      return new RemoteCondition(ref, toProxy(object.lock, false)) as T;
    case 'Event':
      return new RemoteEvent(ref) as T;
    case 'Barrier':
      return new RemoteBarrier(ref, object.parties) as T;
    case 'Value':
      return new RemoteValue(ref, toProxy(object._lock), holdsOf(object._view), object._type) as T;
    case 'SharedArray':
      return new RemoteSharedArray(ref, object.array.length, toProxy(object._lock), object.array instanceof BigInt64Array || object.array instanceof BigUint64Array) as T;
    case 'SharedQueue':
    case 'SharedLifoQueue':
    case 'SharedPriorityQueue':
      return new RemoteSharedQueue(ref, object.maxsize, kind) as T;
    default:
      throw new TypeError(`a ${kind} cannot cross into another process`);
  }
}
