/**
 * The manager's objects, in its server process's broker thread (the thread that
 * already serves shared objects over the proxy protocol). The server's main thread
 * shares one root object; everything else is made here, on a caller's request, and
 * served under a local id:
 *
 *   client ── create('dict') ──► root: new Entry, served as id N ──► DictProxy(N)
 *   client ── get(k) on N ─────► SERVED.ManagedObject → the dict's op ──► the value
 *
 * Every entry counts who refers to it: each caller (one connection: one thread of a
 * client process) by the proxies it was handed or revived, and each container (or
 * Condition) that holds a proxy of it. An entry whose count falls to zero is freed,
 * and what it held is released in turn. A caller whose connection closes (its process
 * died, or disconnected) drops every count it had.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe } from '../futures/future.js';
import { onCallerGone, type Caller } from '../proxy/callers.js';
import { forgetObject, serveLocal } from '../proxy/objects.js';
import { RemoteBarrier, RemoteCondition, RemoteEvent, RemoteSemLock, RemoteSharedQueue } from '../proxy/proxies.js';
import { SERVED } from '../proxy/served.js';
import { SharedQueue } from '../queues/shared-queue.js';
import { Barrier } from '../sync/barrier.js';
import { Condition } from '../sync/condition.js';
import { Event } from '../sync/event.js';
import { BoundedSemaphore, Lock, RLock, Semaphore, type SemLock } from '../sync/semlock.js';
import { brandInstance, registerShared } from '../sync/shared.js';
import type { FunctionSpec } from '../tasks/describe.js';
import { loadFunction } from '../tasks/load.js';
import { DictProxy, ListProxy, namespaceData, objectData, ValueProxy } from './proxies.js';
import { forEachProxy, MANAGER_PROTOCOL, whereOf, type ManagedRef } from './refs.js';

type Op = (value: any, args: any[], caller: Caller, entry: Entry) => unknown;

/** One object of the manager. */
interface Entry {
  readonly id: number;
  readonly typeid: string;
  /** The object itself (a Map, an array, a Lock, a user's object…). */
  readonly value: any;
  /** Its operations, for containers and registered types (primitives have theirs in proxy/served.ts). */
  readonly ops: Record<string, Op> | undefined;
  /** Whether it is a container, whose contents are counted. */
  readonly container: boolean;
  /** The proxy data handed out for it. */
  readonly proxy: object;
  /** Proxies each caller holds, by the caller's owner id. */
  readonly callers: Map<number, number>;
  /** References from containers and other entries. */
  contained: number;
  /** Entries this one keeps alive besides its contents (a Condition's lock). */
  readonly holds: number[];
}

/** What a registered type makes, and which methods its proxies may call. */
interface Registered {
  readonly spec: FunctionSpec;
  readonly exposed: string[] | undefined;
}

/** The server's state; one per process (a server serves one manager). */
const state = {
  base: undefined as Omit<ManagedRef, 'id'> | undefined,
  entries: new Map<number, Entry>(),
  /** Entry ids each caller holds, by owner id. */
  byCaller: new Map<number, Set<number>>(),
  types: new Map<string, Registered>(),
  factories: new Map<string, Promise<Function>>(),
};

/** What a call to an object that was freed finds. */
class Freed {}
registerShared('ManagerFreed', Freed);
const FREED = new Freed();
SERVED.ManagerFreed = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error('this object no longer exists in its manager: it was freed once no proxy or container referred to it');
    },
  },
);

// ---- counting ---------------------------------------------------------------------

function token(): string {
  return state.base!.mgr;
}

function addCaller(entry: Entry, owner: number, n = 1): void {
  entry.callers.set(owner, (entry.callers.get(owner) ?? 0) + n);
  let ids = state.byCaller.get(owner);
  if (ids === undefined) state.byCaller.set(owner, (ids = new Set()));
  ids.add(entry.id);
}

function dropCaller(entry: Entry, owner: number): void {
  const n = entry.callers.get(owner);
  if (n === undefined) return; // not this caller's to drop
  if (n > 1) entry.callers.set(owner, n - 1);
  else {
    entry.callers.delete(owner);
    state.byCaller.get(owner)?.delete(entry.id);
  }
  freeIfUnused(entry);
}

function freeIfUnused(entry: Entry): void {
  if (entry.contained > 0 || entry.callers.size > 0 || !state.entries.has(entry.id)) return;
  state.entries.delete(entry.id);
  forgetObject(entry.id, FREED);
  // What it held goes too: its contents, then whatever it kept alive.
  if (entry.container) uncontain(entry.value);
  for (const id of entry.holds) release(id);
}

function release(id: number): void {
  const e = state.entries.get(id);
  if (e === undefined) return;
  e.contained--;
  freeIfUnused(e);
}

/** Counts the proxies of this manager inside `value`, which a container now holds. */
function contain(value: unknown): void {
  forEachProxy(value, token(), (_p, ref) => {
    const e = state.entries.get(ref.id);
    if (e !== undefined) e.contained++;
  });
}

/** Releases the proxies of this manager inside `value`, which a container no longer holds. */
function uncontain(value: unknown): void {
  forEachProxy(value, token(), (_p, ref) => release(ref.id));
}

/** Counts the proxies in `value` for `caller`, who is about to receive them; returns `value`. */
function out<T>(caller: Caller, value: T): T {
  if (!caller.alive) return value; // gone while its call ran: nothing will reach it, and nobody would count down
  forEachProxy(value, token(), (_p, ref) => {
    const e = state.entries.get(ref.id);
    if (e !== undefined) addCaller(e, caller.owner);
  });
  return value;
}

onCallerGone((caller) => {
  const ids = state.byCaller.get(caller.owner);
  if (ids === undefined) return;
  state.byCaller.delete(caller.owner);
  for (const id of ids) {
    const e = state.entries.get(id);
    if (e === undefined) continue;
    e.callers.delete(caller.owner);
    freeIfUnused(e);
  }
});

// ---- making objects ---------------------------------------------------------------

function refFor(id: number): ManagedRef {
  return { ...state.base!, id };
}

/** Serves `value` as a new entry; `proxyOf` builds its proxy data from its reference. */
function newEntry(typeid: string, value: object, ops: Record<string, Op> | undefined, proxyOf: (ref: ManagedRef) => object, holds: number[] = []): Entry {
  const target = ops === undefined ? value : new ManagedObject();
  const id = serveLocal(target);
  const container = ops === DICT || ops === LIST || ops === NAMESPACE || ops === VALUE;
  const entry: Entry = { id, typeid, value, ops, container, proxy: proxyOf(refFor(id)), callers: new Map(), contained: 0, holds };
  if (target instanceof ManagedObject) target.entry = entry;
  state.entries.set(id, entry);
  for (const h of holds) state.entries.get(h)!.contained++;
  return entry;
}

/** The entry of a proxy of this manager passed as an argument, or a TypeError naming `what`. */
function entryOfProxy(proxy: unknown, what: string): Entry {
  let found: Entry | undefined;
  forEachProxy(proxy, token(), (_p, ref) => {
    found ??= state.entries.get(ref.id);
  });
  if (found === undefined) throw new TypeError(`${what} must be a proxy made by this manager, got ${describe(proxy)}`);
  return found;
}

const lockProxy = (lock: SemLock, kind: string, holds: number[] = []): Entry => newEntry(kind, lock, undefined, (ref) => new RemoteSemLock(ref, kind), holds);

const positive = (n: unknown, what: string): number => {
  if (!Number.isInteger(n) || (n as number) < 0) throw new RangeError(`${what} must be an integer >= 0, got ${describe(n)}`);
  return n as number;
};

/** How each built-in type is made from the arguments of its manager method. */
const MAKERS: Record<string, (args: any[]) => Entry> = {
  dict: ([init]) => {
    const map = new Map<unknown, unknown>(init instanceof Map ? init : init === undefined || init === null ? [] : Array.isArray(init) ? init : Object.entries(init));
    contain(map);
    return newEntry('dict', map, DICT, (ref) => new DictProxy(ref));
  },
  list: ([init]) => {
    const array = init === undefined ? [] : [...(init as Iterable<unknown>)];
    contain(array);
    return newEntry('list', array, LIST, (ref) => new ListProxy(ref));
  },
  namespace: ([init]) => {
    const map = new Map<string, unknown>(Object.entries(init ?? {}));
    contain(map);
    return newEntry('namespace', map, NAMESPACE, namespaceData);
  },
  value: ([init]) => {
    const box = { v: init };
    contain(box);
    return newEntry('value', box, VALUE, (ref) => new ValueProxy(ref));
  },
  queue: ([options]) => {
    const q = new SharedQueue({ maxsize: options?.maxsize ?? 0 });
    return newEntry('queue', q, undefined, (ref) => new RemoteSharedQueue(ref, q.maxsize));
  },
  lock: () => lockProxy(new Lock(), 'Lock'),
  rlock: () => lockProxy(new RLock(), 'RLock'),
  semaphore: ([n]) => lockProxy(new Semaphore(positive(n ?? 1, 'a semaphore\'s value')), 'Semaphore'),
  boundedSemaphore: ([n]) => lockProxy(new BoundedSemaphore(positive(n ?? 1, 'a semaphore\'s value')), 'BoundedSemaphore'),
  condition: ([lock]) => {
    const given = lock === undefined ? undefined : entryOfProxy(lock, 'the lock of a condition');
    if (given !== undefined && !(given.value instanceof Lock || given.value instanceof RLock)) {
      throw new TypeError(`the lock of a condition must be a lock or an rlock of this manager, got a ${given.typeid}`);
    }
    const cond = new Condition(given?.value as SemLock | undefined);
    // Its lock is served too (its proxy is inside the condition's), and lives while the condition does.
    const lockEntry = given ?? lockProxy(cond.lock, 'RLock');
    return newEntry('condition', cond, undefined, (ref) => new RemoteCondition(ref, lockEntry.proxy as RemoteSemLock), [lockEntry.id]);
  },
  event: () => newEntry('event', new Event(), undefined, (ref) => new RemoteEvent(ref)),
  barrier: ([parties, options]) => {
    const b = new Barrier(parties, { timeout: options?.timeout });
    return newEntry('barrier', b, undefined, (ref) => new RemoteBarrier(ref, b.parties));
  },
};
MAKERS.joinableQueue = MAKERS.queue!;

/** The public methods of `obj` (own and inherited, not Object's), as Python exposes public methods by default. */
function publicMethods(obj: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = obj; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === 'constructor' || name.startsWith('_')) continue;
      const d = Object.getOwnPropertyDescriptor(o, name);
      if (d !== undefined && typeof d.value === 'function') names.add(name);
    }
  }
  return [...names];
}

async function makeRegistered(typeid: string, args: unknown[]): Promise<Entry> {
  const type = state.types.get(typeid);
  if (type === undefined) {
    throw new Error(`this manager has no type ${JSON.stringify(typeid)}: register it first (the built-in ones are ${Object.keys(MAKERS).join(', ')})`);
  }
  let factory = state.factories.get(typeid);
  if (factory === undefined) state.factories.set(typeid, (factory = loadFunction(type.spec)));
  const made = await (await factory)(...args);
  if (made === null || typeof made !== 'object') throw new TypeError(`the factory of ${JSON.stringify(typeid)} returned ${describe(made)}, not an object`);
  const exposed = type.exposed ?? publicMethods(made);
  const ops: Record<string, Op> = {};
  for (const name of exposed) {
    ops[name] = async (obj, callArgs, caller) => {
      const method = obj[name];
      if (typeof method !== 'function') throw new TypeError(`${typeid}.${name} is not a method (it is ${describe(method)})`);
      return out(caller, await method.apply(obj, callArgs));
    };
  }
  return newEntry(typeid, made, ops, (ref) => objectData(ref, typeid, exposed));
}

// ---- what the proxies call --------------------------------------------------------

/** What the broker serves for a container or a registered type: calls go to its entry's operations. */
class ManagedObject {
  entry!: Entry;
  call(op: string, args: unknown[], caller: Caller): unknown {
    const fn = Object.hasOwn(this.entry.ops!, op) ? this.entry.ops![op] : undefined;
    if (fn === undefined) throw new Error(`a ${this.entry.typeid} of a manager has no method ${JSON.stringify(op)}`);
    return fn(this.entry.value, args, caller, this.entry);
  }
}
registerShared('ManagedObject', ManagedObject);
SERVED.ManagedObject = new Proxy(
  {},
  { get: (_t, op) => (typeof op === 'string' ? (target: ManagedObject, args: unknown[], caller: Caller) => target.call(op, args, caller) : undefined) },
);

/** Sets `key` of a Map-like container to `value`, releasing what it replaces. */
function put(map: Map<unknown, unknown>, key: unknown, value: unknown): void {
  contain(value);
  if (map.has(key)) uncontain(map.get(key));
  map.set(key, value);
}

/** Takes `value` out of a container for `caller`: counted for the caller before the container lets go. */
function takeOut(caller: Caller, value: unknown): unknown {
  out(caller, value);
  uncontain(value);
  return value;
}

const DICT: Record<string, Op> = {
  get: (m: Map<unknown, unknown>, [k], caller) => out(caller, m.get(k)),
  set: (m: Map<unknown, unknown>, [k, v]) => void put(m, k, v),
  has: (m: Map<unknown, unknown>, [k]) => m.has(k),
  delete: (m: Map<unknown, unknown>, [k]) => {
    if (!m.has(k)) return false;
    uncontain(m.get(k));
    return m.delete(k);
  },
  size: (m: Map<unknown, unknown>) => m.size,
  keys: (m: Map<unknown, unknown>, _a, caller) => out(caller, [...m.keys()]),
  values: (m: Map<unknown, unknown>, _a, caller) => out(caller, [...m.values()]),
  entries: (m: Map<unknown, unknown>, _a, caller) => out(caller, [...m.entries()]),
  update: (m: Map<unknown, unknown>, [entries]) => {
    for (const [k, v] of entries as Array<[unknown, unknown]>) put(m, k, v);
  },
  pop: (m: Map<unknown, unknown>, [k, hasDefault, dflt], caller) => {
    if (m.has(k)) {
      const v = m.get(k);
      m.delete(k);
      return takeOut(caller, v);
    }
    if (hasDefault) return dflt;
    throw new RangeError(`key ${describe(k)} is not in the dict`);
  },
  setdefault: (m: Map<unknown, unknown>, [k, dflt], caller) => {
    if (!m.has(k)) put(m, k, dflt);
    return out(caller, m.get(k));
  },
  clear: (m: Map<unknown, unknown>) => {
    uncontain(m);
    m.clear();
  },
  copy: (m: Map<unknown, unknown>, _a, caller) => out(caller, new Map(m)),
};

/** A list index, Python's way: negative counts from the end; out of range is a RangeError. */
function indexIn(a: unknown[], i: unknown, what: string): number {
  if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
  const j = (i as number) < 0 ? a.length + (i as number) : (i as number);
  if (j < 0 || j >= a.length) throw new RangeError(`${what} index ${i} out of range (length ${a.length})`);
  return j;
}

const firstEqual = (a: unknown[], v: unknown, from = 0): number => {
  for (let i = Math.max(0, from < 0 ? a.length + from : from); i < a.length; i++) if (isDeepStrictEqual(a[i], v)) return i;
  return -1;
};

const LIST: Record<string, Op> = {
  length: (a: unknown[]) => a.length,
  at: (a: unknown[], [i], caller) => {
    if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
    return out(caller, a.at(i));
  },
  set: (a: unknown[], [i, v]) => {
    const j = indexIn(a, i, 'assignment');
    contain(v);
    uncontain(a[j]);
    a[j] = v;
  },
  push: (a: unknown[], [items]) => {
    contain(items);
    a.push(...(items as unknown[]));
    return a.length;
  },
  insert: (a: unknown[], [i, v]) => {
    if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
    const j = Math.min(a.length, Math.max(0, i < 0 ? a.length + i : i));
    contain(v);
    a.splice(j, 0, v);
  },
  pop: (a: unknown[], [i], caller) => {
    if (a.length === 0) throw new RangeError('pop from an empty list');
    const j = indexIn(a, i ?? -1, 'pop');
    return takeOut(caller, a.splice(j, 1)[0]);
  },
  remove: (a: unknown[], [v]) => {
    const j = firstEqual(a, v);
    if (j < 0) throw new RangeError(`${describe(v)} is not in the list`);
    uncontain(a.splice(j, 1)[0]);
  },
  indexOf: (a: unknown[], [v, from]) => firstEqual(a, v, from ?? 0),
  count: (a: unknown[], [v]) => a.reduce((n: number, x) => (isDeepStrictEqual(x, v) ? n + 1 : n), 0),
  slice: (a: unknown[], [start, end], caller) => out(caller, a.slice(start, end)),
  clear: (a: unknown[]) => {
    uncontain(a);
    a.length = 0;
  },
};

const NAMESPACE: Record<string, Op> = {
  get: (m: Map<string, unknown>, [name], caller) => out(caller, m.get(name)),
  set: (m: Map<string, unknown>, [name, v]) => void put(m, name, v),
  delete: (m: Map<string, unknown>, [name]) => DICT.delete!(m, [name], undefined as never, undefined as never),
  has: (m: Map<string, unknown>, [name]) => m.has(name),
  entries: (m: Map<string, unknown>, _a, caller) => out(caller, [...m.entries()]),
};

const VALUE: Record<string, Op> = {
  get: (box: { v: unknown }, _a, caller) => out(caller, box.v),
  set: (box: { v: unknown }, [v]) => {
    contain(v);
    uncontain(box.v);
    box.v = v;
  },
};

/** What the server's main thread shares: the manager itself, which makes and counts objects. */
export class ManagerRoot {
  /** The spec of the initializer, and its arguments, run in this thread before anything is served. */
  initializer: FunctionSpec | undefined;
  initargs: unknown[] = [];
  constructor(initializer: FunctionSpec | undefined, initargs: unknown[]) {
    brandInstance(this, new.target);
    this.initializer = initializer;
    this.initargs = initargs;
  }
}
registerShared('ManagerRoot', ManagerRoot);

/** The server's answer to a hello: what a connecting client needs to know. */
export interface ServerInfo {
  version: number;
  pid: number;
  token: string;
  maxFrame: number;
}

SERVED.ManagerRoot = {
  /** The server's main thread tells the root where it is; the initializer runs here, in the objects' thread. */
  start: async (root: ManagerRoot, [ref, mgr]: any[]) => {
    state.base = { addr: ref.addr, key: ref.key, pid: ref.pid, maxFrame: ref.maxFrame, mgr, root: ref.id, where: whereOf(ref.addr) };
    if (root.initializer !== undefined) await (await loadFunction(root.initializer))(...root.initargs);
  },
  hello: (): ServerInfo => ({ version: MANAGER_PROTOCOL, pid: process.pid, token: state.base!.mgr, maxFrame: state.base!.maxFrame }),
  create: (_root, [typeid, args]: any[], caller) => {
    const make = Object.hasOwn(MAKERS, typeid) ? MAKERS[typeid] : undefined;
    if (make !== undefined) return out(caller, make(args).proxy);
    return makeRegistered(typeid, args).then((entry) => out(caller, entry.proxy));
  },
  register: (_root, [typeid, spec, exposed]: any[]) => {
    if (Object.hasOwn(MAKERS, typeid)) throw new Error(`${JSON.stringify(typeid)} is a built-in type of the manager; register under another name`);
    state.types.set(typeid, { spec, exposed });
    state.factories.delete(typeid);
  },
  incref: (_root, [ids]: any[], caller) => {
    for (const id of ids) {
      const e = state.entries.get(id);
      if (e !== undefined) addCaller(e, caller.owner);
    }
  },
  decref: (_root, [ids]: any[], caller) => {
    for (const id of ids) {
      const e = state.entries.get(id);
      if (e !== undefined) dropCaller(e, caller.owner);
    }
  },
  objectCount: () => state.entries.size,
  /** What the server holds, by type (for tests and debugging). */
  objectTypes: () => [...state.entries.values()].map((e) => `${e.typeid}#${e.id} callers=${[...e.callers.values()].join('+')} contained=${e.contained}`),
};
