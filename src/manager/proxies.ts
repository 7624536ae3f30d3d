/**
 * The proxies of a manager's containers, as the caller sees them. Each method is one
 * synchronous round trip to the manager's server (callRemoteSync: the thread blocks on
 * Atomics.wait while its proxy helper does the socket I/O), so a DictProxy reads like a
 * Map. A container's call never waits for another party at the server, so it has a
 * deadline (the callTimeout its reference carries): a server alive but stalled fails it
 * with a TimeoutError, not a hang. A registered type's methods wait as long as they take.
 * A proxy is plain data (its reference) plus a registered class: it crosses into
 * threads and processes, and into other managed containers, and is revived there (a
 * namespace's users hold a JS Proxy around that data: see namespaceView).
 *
 * Lifetime: the server counts, per connection, the proxies each caller holds.
 *
 *   server sends a proxy back (create, d.get) ── counts it for that connection ──┐
 *   a proxy revived from a clone (an argument, a Pipe message) ── sends incref ──┤
 *                                                                               ▼
 *   FinalizationRegistry: the proxy was garbage-collected ── decref, 1 s later ── count − 1
 *   the connection closes (the process died)            ── every count it held goes, 2 s later
 *
 * The delays give a proxy handed on just before (a thread's result) time to be revived
 * and counted by its receiver. A proxy sent to another process (an argument, a Pipe
 * message) is held by the server until its receiver takes it in, however late, and
 * however soon its sender lets it go or exits:
 *
 *   sender: onCrossing ── hold(id, ticket), one round trip ──► server: a count for the ticket
 *           the copy that crosses carries the ticket
 *   receiver: onRevive ── arrived(id, ticket) ──► server: counted for the receiver, then the ticket's count goes
 *
 * A hold nobody takes in (its receiver died first) goes after HOLD_MS (entries.ts). A
 * proxy sent to a thread is kept alive here for a minute instead (onLeaving): what a
 * thread is sent is cloned as it stands, with no room for a ticket.
 */
import { inspect } from 'node:util';
import { EOFError, RemoteError, TimeoutError } from '../futures/errors.js';
import { bounded, callRemote, callRemoteSync, callRemoteSyncTimed } from '../proxy/client.js';
import { threadId } from 'node:worker_threads';
import { onCrossing } from '../proxy/proxies.js';
import type { ProxyRef } from '../proxy/protocol.js';
import { brandInstance, onLeaving, onRevive, registerShared, reviveWithin } from '../sync/shared.js';
import { dataOf } from '../sync/views.js';
import { DEFAULT_CALL_TIMEOUT_MS, forEachProxy, managedRefOf, type ManagedRef } from './refs.js';

// ---- lifetime -------------------------------------------------------------------

const roots = new Map<string, ManagedRef>();
/** The reference of the root object of the manager `ref` belongs to. */
export function rootOf(ref: ManagedRef): ManagedRef {
  let root = roots.get(ref.mgr);
  if (root === undefined) roots.set(ref.mgr, (root = { ...ref, id: ref.root }));
  return root;
}

const quietly = (p: Promise<unknown>): void => void p.catch(() => {});

/** How long after a proxy is collected its count goes down (see drop). */
const DROP_GRACE_MS = 1_000;

const dropping = new Map<string, { root: ManagedRef; ids: number[] }>();
function drop(held: { root: ManagedRef; id: number }): void {
  let batch = dropping.get(held.root.mgr);
  if (batch === undefined) {
    dropping.set(held.root.mgr, (batch = { root: held.root, ids: [] }));
    // Not at once: a proxy handed on just before it was collected here (a thread's result)
    // has this long to be revived and counted by its receiver.
    setTimeout(() => {
      dropping.delete(held.root.mgr);
      try {
        quietly(callRemote(batch!.root, 'decref', [batch!.ids]));
      } catch {
        // this thread's helper is gone, and its connection with it: the server dropped the counts already
      }
    }, DROP_GRACE_MS).unref();
  }
  batch.ids.push(held.id);
}

const collected = new FinalizationRegistry<{ root: ManagedRef; id: number }>(drop);

/** The token of the manager whose answer is being revived: it counted its own proxies in it already. */
let arrivingFrom: string | undefined;
/** The callTimeout of the proxy that answer came through: its own proxies in it take it on. */
let arrivingTimeout: number | undefined;

/** Starts counting `proxy` in this thread: it is released when garbage-collected. */
function adopt(proxy: object, ref: ManagedRef, counted: boolean): void {
  const root = rootOf(ref);
  // A proxy that crossed from another process carries its hold: counted here, the hold
  // goes. A live proxy never carries one (see heldCrossing: a ticket means a form passing through).
  const data = dataOf(proxy) as { _held?: unknown }; // never through a namespace's view: that would ask the server
  const ticket = data._held;
  if (ticket !== undefined) delete data._held;
  if (!counted) {
    try {
      if (typeof ticket === 'string') quietly(callRemote(root, 'arrived', [ref.id, ticket]));
      else quietly(callRemote(root, 'incref', [[ref.id]]));
    } catch {
      return; // nothing to count with: calls through it will say why
    }
  }
  collected.register(proxy, { root, id: ref.id });
}

/** How long a sender waits for its hold before the proxy crosses bare (plus the callers' grace). */
const HOLD_WAIT_MS = 5_000;

let tickets = 0;
/** Tells this process's holds apart from every other's: a pid alone may come again. */
const ticketBase = `${process.pid}.${threadId}.${Math.random().toString(36).slice(2, 10)}`;

/**
 * What a proxy on its way to another process crosses as: its data and a ticket the
 * server holds it by until the receiver takes it in. The hold is one round trip, made
 * before the proxy leaves, so a sender that exits at once has made it. When it cannot
 * be made (the server unreachable, or holding too many), the proxy crosses bare and is
 * kept alive here a while.
 */
function heldCrossing(proxy: object): object | undefined {
  const ref = managedRefOf(proxy);
  if (ref === undefined) return undefined;
  // A crossing form this process hands on, not revived here (a Pipe end relayed between
  // two other processes): its sender's hold waits for the last receiver, and goes as it
  // arrives there. A hold of our own would wait for an arrival that never comes.
  if (typeof (dataOf(proxy) as { _held?: unknown })._held === 'string') return dataOf(proxy);
  const ticket = `${ticketBase}.${++tickets}`;
  let held = false;
  try {
    // Bounded: a server that is alive but stalled (stopped, or busy in a registered
    // method) must not hold the sender's thread; the proxy then crosses bare, kept alive
    // here a while, and a hold granted late expires in the server by itself.
    held = callRemoteSync(rootOf(ref), 'hold', [ref.id, ticket], bounded(HOLD_WAIT_MS, () => false)) === true; // false: no room for more holds (or freed already)
  } catch {
    // the server is unreachable: calls through the proxy will say so
  }
  if (held) return { ...dataOf(proxy), _held: ticket };
  keepWhileCrossing(proxy);
  return undefined;
}

/**
 * How long a proxy that left for a thread (or for a process, when its hold could not be
 * made) is kept alive here: its count in the server must not fall to zero (this thread's
 * proxy garbage-collected) before the thread it went to has revived its copy and counted it.
 */
const CROSSING_GRACE_MS = 60_000;

/** Keeps a proxy on its way to another thread alive here (see CROSSING_GRACE_MS). */
function keepWhileCrossing(proxy: object): void {
  if (managedRefOf(proxy) === undefined) return;
  setTimeout(() => void proxy, CROSSING_GRACE_MS).unref();
}
onCrossing(heldCrossing);
// A thread takes its arguments when it starts, or a pool thread when it gets to the
// task, which may be long after this thread dropped the proxy.
onLeaving(keepWhileCrossing);

// A proxy that arrives as an argument, a Pipe message or inside a shared object counts itself.
onRevive((value) => {
  const ref = managedRefOf(value);
  if (ref === undefined) return;
  if (ref.mgr === arrivingFrom && arrivingTimeout !== undefined && ref.callTimeout !== arrivingTimeout) {
    (dataOf(value) as { _ref: ManagedRef })._ref = { ...ref, callTimeout: arrivingTimeout };
  }
  adopt(value, ref, ref.mgr === arrivingFrom);
});

/**
 * Addresses a server hands out that this process reaches by another name: a manager
 * listening on 0.0.0.0 (every interface) names itself so, and a client on another
 * machine reaches it at the address it connected to.
 */
const aliases = new Map<string, string>();

/** @internal From now on, proxies naming `served` reach it at `reached`. */
export function aliasAddress(served: string, reached: string): void {
  if (served !== reached) aliases.set(served, reached);
}

/**
 * Revives the proxies in an answer of the manager `from`: it counted its own for this
 * connection already; a proxy of another manager stored in it counts itself. Its own
 * proxies take on `callTimeout`, that of the proxy the answer came through (a handle
 * from `Manager.connect` may have its own, not the one the server stamps).
 */
export function incoming<T>(value: T, from: string, callTimeout?: number): T {
  if (value === null || typeof value !== 'object') return value;
  arrivingFrom = from;
  arrivingTimeout = callTimeout;
  try {
    if (aliases.size > 0) {
      forEachProxy(value, undefined, (proxy, ref) => {
        const reached = aliases.get(ref.addr);
        if (reached !== undefined) (proxy as { _ref: ManagedRef })._ref = { ...ref, addr: reached };
      });
    }
    // In place, with views (a namespace's) where their data came: the answer is fresh.
    return reviveWithin(value);
  } finally {
    arrivingFrom = arrivingTimeout = undefined;
  }
}

/**
 * The error a caller sees: an EOFError names the manager; an error of a class this
 * process lacks (it came back as a plain Error carrying the class's name) is a RemoteError.
 */
function named(err: unknown, ref: ManagedRef): unknown {
  if (err instanceof EOFError && !err.message.startsWith('the manager')) {
    return new EOFError(`the manager at ${ref.where} (pid ${ref.pid}) is gone: ${err.message}`, { cause: err });
  }
  if (err instanceof Error && Object.getPrototypeOf(err) === Error.prototype && err.name !== 'Error') {
    return new RemoteError(`${err.name}: ${err.message}`, { cause: err });
  }
  return err;
}

/**
 * One round trip: `op` on the manager's object `ref`, its answer with the proxies in it
 * revived. A `timed` call (a container's: it never waits for another party) throws a
 * TimeoutError past the proxy's callTimeout; a registered type's method may take as
 * long as it likes.
 */
export function callManaged(ref: ManagedRef, op: string, args: unknown[], timed = false): unknown {
  let answer: unknown;
  try {
    answer = timed ? callRemoteSyncTimed(ref, op, args, ref.callTimeout ?? DEFAULT_CALL_TIMEOUT_MS, timedOut) : callRemoteSync(ref, op, args);
  } catch (err) {
    throw named(err, ref);
  }
  return incoming(answer, ref.mgr, ref.callTimeout);
}

/** What a container call whose callTimeout passed throws. */
function timedOut(ref: ProxyRef, op: string, timeout: number): never {
  const { where, pid } = ref as ManagedRef;
  throw new TimeoutError(
    `the manager at ${where} (pid ${pid}) did not answer ${op}() within ${timeout} ms (its callTimeout): it is stalled or very busy. ` +
      'The call may still take effect at the server; nothing else is lost, and calls work again once it answers',
  );
}

// ---- the proxies ----------------------------------------------------------------

/** The base of a manager's proxies: the reference to the server's object. */
abstract class ManagedProxy {
  /** @internal Where the object lives. */
  readonly _ref: ManagedRef;
  constructor(ref: ManagedRef) {
    brandInstance(this, new.target);
    this._ref = ref;
  }
  /** @internal */
  _call(op: string, ...args: unknown[]): unknown {
    return callManaged(this._ref, op, args, true);
  }
  [inspect.custom](): string {
    return `${this.constructor.name} <manager at ${this._ref.where}, object ${this._ref.id}>`;
  }
}

/** A proxy of a Map in the manager's server: `get` of a missing key is undefined, as a Map's. */
export class DictProxy<V = unknown, K = string> extends ManagedProxy implements Iterable<[K, V]> {
  get(key: K): V | undefined {
    return this._call('get', key) as V | undefined;
  }
  set(key: K, value: V): this {
    this._call('set', key, value);
    return this;
  }
  has(key: K): boolean {
    return this._call('has', key) as boolean;
  }
  delete(key: K): boolean {
    return this._call('delete', key) as boolean;
  }
  get size(): number {
    return this._call('size') as number;
  }
  /** A snapshot of the keys. */
  keys(): K[] {
    return this._call('keys') as K[];
  }
  /** A snapshot of the values. */
  values(): V[] {
    return this._call('values') as V[];
  }
  /** A snapshot of the entries. */
  entries(): Array<[K, V]> {
    return this._call('entries') as Array<[K, V]>;
  }
  forEach(fn: (value: V, key: K, dict: this) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
  /** Sets every entry of `entries` (a plain object, a Map or an iterable of pairs). */
  update(entries: Record<string, V> | Iterable<readonly [K, V]>): void {
    const list = Symbol.iterator in Object(entries) ? [...(entries as Iterable<readonly [K, V]>)] : Object.entries(entries);
    this._call('update', list);
  }
  /** Removes `key` and returns its value; without `dflt`, a missing key throws a RangeError naming it. */
  pop(key: K): V;
  pop<D>(key: K, dflt: D): V | D;
  pop(key: K, ...dflt: unknown[]): unknown {
    return this._call('pop', key, dflt.length > 0, dflt[0]);
  }
  /** The value of `key`, set to `dflt` first if it has none. */
  setdefault(key: K, dflt: V): V {
    return this._call('setdefault', key, dflt) as V;
  }
  clear(): void {
    this._call('clear');
  }
  /** A copy, as a Map (proxies inside it stay proxies; plain values are copies). */
  copy(): Map<K, V> {
    return this._call('copy') as Map<K, V>;
  }
  /** The entries, from a snapshot. */
  [Symbol.iterator](): Iterator<[K, V]> {
    return this.entries()[Symbol.iterator]();
  }
}

/** A proxy of an array in the manager's server. Indexes may be negative (from the end) where Python's may. */
export class ListProxy<T = unknown> extends ManagedProxy implements Iterable<T> {
  /** `l[i]` reads (negative from the end) and `l[i] = x` writes the item at i, each a round trip. */
  [index: number]: T;
  get length(): number {
    return this._call('length') as number;
  }
  at(index: number): T | undefined {
    return this._call('at', index) as T | undefined;
  }
  /** Replaces the item at `index`; out of range is a RangeError. */
  set(index: number, value: T): void {
    this._call('set', index, value);
  }
  /** Appends the items; returns the new length. */
  push(...items: T[]): number {
    return this._call('push', items) as number;
  }
  extend(items: Iterable<T>): void {
    this._call('push', [...items]);
  }
  /** Inserts before `index` (clamped to the list, as Python's insert). */
  insert(index: number, value: T): void {
    this._call('insert', index, value);
  }
  /** Removes and returns the item at `index` (the last by default); an empty list or a bad index is a RangeError. */
  pop(index?: number): T {
    return this._call('pop', index) as T;
  }
  /** Removes the first item equal to `value` (deep equality); a RangeError if there is none. */
  remove(value: T): void {
    this._call('remove', value);
  }
  /** The index of the first item equal to `value` (deep equality), or -1. */
  indexOf(value: T, from?: number): number {
    return this._call('indexOf', value, from) as number;
  }
  includes(value: T): boolean {
    return this.indexOf(value) >= 0;
  }
  /** How many items equal `value` (deep equality). */
  count(value: T): number {
    return this._call('count', value) as number;
  }
  /** A snapshot of a part, as an array. */
  slice(start?: number, end?: number): T[] {
    return this._call('slice', start, end) as T[];
  }
  clear(): void {
    this._call('clear');
  }
  /** A snapshot, as an array. */
  copy(): T[] {
    return this.slice();
  }
  /** The items, from a snapshot. */
  [Symbol.iterator](): Iterator<T> {
    return this.copy()[Symbol.iterator]();
  }
}

// `l[0]`, `l[-1]` and `l[0] = x`, as Python's ListProxy indexes: an index the proxy itself
// lacks reaches this trap (ListProxy.prototype's own prototype) with the proxy as receiver.
const INDEX = /^-?\d+$/;
Object.setPrototypeOf(
  ListProxy.prototype,
  new Proxy(ManagedProxy.prototype, {
    get: (target, p, receiver) =>
      typeof p === 'string' && INDEX.test(p) && Object.hasOwn(receiver, '_ref') ? receiver.at(Number(p)) : Reflect.get(target, p, receiver),
    set: (target, p, v, receiver) => {
      if (typeof p === 'string' && INDEX.test(p) && Object.hasOwn(receiver, '_ref')) {
        receiver.set(Number(p), v);
        return true;
      }
      return Reflect.set(target, p, v, receiver);
    },
  }),
);

/** A proxy of one value in the manager's server (Python's manager.Value). */
export class ValueProxy<T = unknown> extends ManagedProxy {
  get value(): T {
    return this._call('get') as T;
  }
  set value(v: T) {
    this._call('set', v);
  }
  get(): T {
    return this.value;
  }
  set(v: T): void {
    this.value = v;
  }
}

/** Names that stay on the proxy itself: underscores (as Python's), symbols, and the few a program asks of any object. */
const isLocal = (p: string | symbol): boolean => typeof p === 'symbol' || p.startsWith('_') || p === 'then' || p === 'toJSON' || p === 'constructor';

/**
 * An object whose prototype is a JS Proxy: reading or writing a property the object
 * itself lacks reaches the trap with the object as receiver. The object stays plain
 * data (its reference), so it crosses into threads and processes, which a JS Proxy
 * itself cannot.
 */
function trappingClass(name: string, base: object, handler: ProxyHandler<object>): Function {
  const cls = function (this: unknown) {} as unknown as Function;
  Object.defineProperty(cls, 'name', { value: name });
  Object.defineProperty(cls, 'prototype', { value: new Proxy(base, handler), writable: false });
  return cls;
}

const setLocal = (receiver: object, p: string | symbol, v: unknown): boolean => {
  Object.defineProperty(receiver, p, { value: v, writable: true, configurable: true, enumerable: false });
  return true;
};

/**
 * A Namespace of the manager's server: `ns.x` reads, `ns.x = 1` writes, `delete ns.x`
 * deletes there, `'x' in ns` and `Object.keys(ns)` ask it; names starting with `_` stay local.
 */
export type NamespaceProxy<T extends object = Record<string, unknown>> = T & { readonly _ref: ManagedRef };

const NamespaceClass = trappingClass(
  'NamespaceProxy',
  {
    [inspect.custom](this: ManagedProxy): string {
      return `NamespaceProxy ${inspect(Object.fromEntries(callManaged(this._ref, 'entries', [], true) as Array<[string, unknown]>))}`;
    },
    toJSON(this: ManagedProxy): Record<string, unknown> {
      return Object.fromEntries(callManaged(this._ref, 'entries', [], true) as Array<[string, unknown]>);
    },
    toString(): string {
      return '[object NamespaceProxy]';
    },
  },
  {
    get: (target, p, receiver) =>
      isLocal(p) || p in target || !Object.hasOwn(receiver, '_ref') ? Reflect.get(target, p, receiver) : callManaged(receiver._ref, 'get', [p as string], true),
    set: (_target, p, v, receiver) => {
      if (isLocal(p) || !Object.hasOwn(receiver, '_ref')) return setLocal(receiver, p, v);
      callManaged(receiver._ref, 'set', [p, v], true);
      return true;
    },
  },
);

type NamespaceData = { readonly _ref: ManagedRef } & Record<string | symbol, unknown>;

/**
 * What users hold of a namespace: a JS Proxy around its data (namespaceData), since only
 * a Proxy's own traps see `delete ns.x`, `'x' in ns` and `Object.keys(ns)`; the
 * prototype's traps above see only reads and writes (they serve the data where it is met
 * bare, nested in a task's argument). What crosses into a thread or process is the data
 * (see sync/views.ts), revived there as a view again.
 */
const namespaceView: ProxyHandler<NamespaceData> = {
  get: (data, p) => (isLocal(p) || p in data ? Reflect.get(data, p) : callManaged(data._ref, 'get', [p], true)),
  set: (data, p, v) => {
    if (isLocal(p)) return setLocal(data, p, v);
    callManaged(data._ref, 'set', [p, v], true);
    return true;
  },
  has: (data, p) => (isLocal(p) || p in data ? Reflect.has(data, p) : (callManaged(data._ref, 'has', [p], true) as boolean)),
  // A missing name deletes as a missing property does in JS: true, no error (Python raises AttributeError).
  deleteProperty: (data, p) => {
    if (isLocal(p)) return Reflect.deleteProperty(data, p);
    callManaged(data._ref, 'delete', [p], true);
    return true;
  },
  // The server's names (enumerable), then the local ones (not), so Object.keys, spreading
  // and Object.entries list the server's attributes only.
  ownKeys: (data) => [...(callManaged(data._ref, 'names', [], true) as string[]).filter((n) => !isLocal(n)), ...Reflect.ownKeys(data)],
  getOwnPropertyDescriptor: (data, p) => {
    if (isLocal(p)) {
      const local = Reflect.getOwnPropertyDescriptor(data, p);
      return local === undefined ? undefined : { ...local, enumerable: false };
    }
    const found = callManaged(data._ref, 'lookup', [p], true) as [] | [unknown];
    return found.length === 0 ? undefined : { value: found[0], writable: true, enumerable: true, configurable: true };
  },
  defineProperty: (data, p, desc) => {
    if (isLocal(p)) return Reflect.defineProperty(data, p, desc);
    // Only what a plain write can say: the server keeps values, not descriptors.
    if (!('value' in desc) || desc.configurable === false || desc.writable === false) return false;
    callManaged(data._ref, 'set', [p, desc.value], true);
    return true;
  },
  // Its data must stay extensible: the server's names come and go.
  preventExtensions: () => false,
};

/** A proxy of an object of a registered type: its exposed methods run in the manager's server. */
export type ObjectProxy<T> = T & { readonly _ref: ManagedRef };

const ObjectClass = trappingClass(
  'ObjectProxy',
  {
    [inspect.custom](this: ManagedProxy & { _typeid: string }): string {
      return `ObjectProxy(${this._typeid}) <manager at ${this._ref.where}, object ${this._ref.id}>`;
    },
  },
  {
    get: (target, p, receiver) => {
      if (!isLocal(p) && Object.hasOwn(receiver, '_exposed') && (receiver._exposed as string[]).includes(p as string)) {
        return (...args: unknown[]) => callManaged(receiver._ref, p as string, args);
      }
      return Reflect.get(target, p, receiver);
    },
    set: (_target, p, v, receiver) => setLocal(receiver, p, v),
  },
);

/** @internal Builds proxy data as the server hands it out. */
export function namespaceData(ref: ManagedRef): object {
  const data = { _ref: ref };
  brandInstance(data, NamespaceClass);
  return data;
}

/** @internal Builds proxy data as the server hands it out. */
export function objectData(ref: ManagedRef, typeid: string, exposed: string[]): object {
  const data = { _ref: ref, _typeid: typeid, _exposed: exposed };
  brandInstance(data, ObjectClass);
  return data;
}

// Names spelled out: a bundler may rename classes, and both sides must agree.
registerShared('RemoteDict', DictProxy);
registerShared('RemoteList', ListProxy);
registerShared('RemoteManagedValue', ValueProxy);
registerShared('RemoteNamespace', NamespaceClass, (data) => new Proxy(data as NamespaceData, namespaceView));
registerShared('RemoteObject', ObjectClass);
