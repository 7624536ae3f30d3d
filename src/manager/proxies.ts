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
 * Their lifetime (the counts the server keeps for them) and their one way to call it
 * are in managed-calls.ts.
 */
import { inspect } from 'node:util';
import { serialize } from 'node:v8';
import { describe } from '../futures/future.js';
import { unsendablePart } from '../proxy/unsendable.js';
import { withoutViews } from '../sync/views.js';
import { cloneReason } from '../transport/clone-error.js';
import { brandInstance, registerShared } from '../sync/shared.js';
import { callManaged } from './managed-calls.js';
import { itemsOf, type ManagedRef } from './refs.js';

// ---- the proxies ----------------------------------------------------------------

/**
 * `op` on a container whose one argument is the caller's items (push's, extend's,
 * update's entries): an item that cannot be sent is named by its place among them, and
 * by what it holds where, not as "argument 0 (Array)", which the caller never wrote.
 */
function callWithItems(ref: ManagedRef, op: string, items: unknown[], name: string, place: (i: number) => string): unknown {
  try {
    return callManaged(ref, op, [items], true);
  } catch (err) {
    if (!(err instanceof TypeError) || !err.message.startsWith('argument 0 ')) throw err;
    for (let i = 0; i < items.length; i++) {
      try {
        serialize(withoutViews(items[i]));
      } catch (why) {
        const part = unsendablePart(withoutViews(items[i]));
        throw new TypeError(`${place(i)} of ${name} cannot be sent across processes${part === undefined ? '' : `: it is ${part}`} (${cloneReason(why)})`, { cause: why });
      }
    }
    throw err;
  }
}

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
  /**
   * What JSON.stringify writes: never the reference, which carries the key to the server
   * (a proxy is a capability, SECURITY.md); the containers write what they hold.
   */
  toJSON(): unknown {
    return this[inspect.custom]();
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
    if (entries === null || typeof entries !== 'object') {
      throw new TypeError(`update takes a plain object, a Map or an iterable of [key, value] pairs, got ${describe(entries)}`);
    }
    const list = Symbol.iterator in Object(entries) ? [...(entries as Iterable<readonly [K, V]>)] : Object.entries(entries);
    callWithItems(this._ref, 'update', list, 'update', (i) => `entry ${i} (key ${describe((list[i] as unknown[] | undefined)?.[0])})`);
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
  /** JSON.stringify writes the entries, as an object (a snapshot). */
  override toJSON(): Record<string, V> {
    return Object.fromEntries(this.entries() as Array<[PropertyKey, V]>) as Record<string, V>;
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
    return callWithItems(this._ref, 'push', items, 'push', (i) => `item ${i}`) as number;
  }
  extend(items: Iterable<T>): void {
    callWithItems(this._ref, 'push', itemsOf(items, 'extend'), 'extend', (i) => `item ${i}`);
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
  /** JSON.stringify writes the items (a snapshot). */
  override toJSON(): T[] {
    return this.copy();
  }
}

// `l[0]`, `l[-1]` and `l[0] = x`, as Python's ListProxy indexes: an index the proxy itself
// lacks reaches this trap (ListProxy.prototype's own prototype) with the proxy as receiver.
// A read out of range is a RangeError, as Python's IndexError (`at()` gives undefined).
const INDEX = /^-?\d+$/;
Object.setPrototypeOf(
  ListProxy.prototype,
  new Proxy(ManagedProxy.prototype, {
    get: (target, p, receiver) =>
      typeof p === 'string' && INDEX.test(p) && Object.hasOwn(receiver, '_ref') ? receiver._call('item', Number(p)) : Reflect.get(target, p, receiver),
    set: (target, p, v, receiver) => {
      if (typeof p === 'string' && INDEX.test(p) && Object.hasOwn(receiver, '_ref')) {
        receiver.set(Number(p), v);
        return true;
      }
      return Reflect.set(target, p, v, receiver);
    },
  }),
);

/**
 * What users hold of a list: a JS Proxy around its data (as a namespace's view), since
 * only a Proxy's own trap sees `delete l[i]`, which removes the item there as Python's
 * `del l[i]` does (on the bare data, met nested in a task's argument before it is revived,
 * `delete` would answer true and remove nothing). Everything else goes to the data and
 * its prototype's index trap above. What crosses is the data (see sync/views.ts).
 */
const listView: ProxyHandler<ListProxy> = {
  deleteProperty: (data, p) => {
    if (typeof p === 'string' && INDEX.test(p)) {
      data._call('delete', Number(p));
      return true;
    }
    return Reflect.deleteProperty(data, p);
  },
};

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
  /** JSON.stringify writes the value. */
  override toJSON(): T {
    return this.value;
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

/**
 * A namespace's attribute `p` (not a local name), read from its server. A name the proxy
 * has too (Object.prototype's toString, valueOf, hasOwnProperty...) is the server's
 * when the server has it, else the proxy's own: written, it went to the server.
 */
function readName(ref: ManagedRef, p: string, own: object, receiver: object): unknown {
  if (!(p in own)) return callManaged(ref, 'get', [p], true);
  const found = callManaged(ref, 'lookup', [p], true) as [] | [unknown];
  return found.length > 0 ? found[0] : Reflect.get(own, p, receiver);
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
      isLocal(p) || !Object.hasOwn(receiver, '_ref') ? Reflect.get(target, p, receiver) : readName(receiver._ref, p as string, target, receiver),
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
  get: (data, p) => (isLocal(p) ? Reflect.get(data, p) : readName(data._ref, p as string, data, data)),
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
registerShared('RemoteList', ListProxy, (data) => new Proxy(data as ListProxy, listView));
registerShared('RemoteManagedValue', ValueProxy);
registerShared('RemoteNamespace', NamespaceClass, (data) => new Proxy(data as NamespaceData, namespaceView));
registerShared('RemoteObject', ObjectClass);
