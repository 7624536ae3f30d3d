/**
 * The manager's objects, in its server process's broker thread (the thread that
 * already serves shared objects over the proxy protocol). The server's main thread
 * shares one root object; everything else is made here, on a caller's request, and
 * served under a local id (entries.ts counts who refers to each):
 *
 *   client ── create('dict') ──► root: new Entry, served as id N ──► DictProxy(N)
 *   client ── get(k) on N ─────► SERVED.ManagedObject → the dict's op ──► the value
 */
import { describe } from '../futures/future.js';
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
import { DICT, dictKey, LIST, NAMESPACE, pairsOf, VALUE } from './containers.js';
import { addCaller, containEach, dropCaller, hold, newEntry, out, state, token, unhold, type Entry, type Op } from './entries.js';
import { DictProxy, ListProxy, namespaceData, objectData, ValueProxy } from './proxies.js';
import { DEFAULT_CALL_TIMEOUT_MS, forEachProxy, itemsOf, MANAGER_PROTOCOL, whereOf } from './refs.js';

/** The entry of a proxy of this manager passed as an argument, or a TypeError naming `what`. */
function entryOfProxy(proxy: unknown, what: string): Entry {
  let found: Entry | undefined;
  forEachProxy(proxy, token(), (_p, ref) => {
    found ??= state.entries.get(ref.id);
  });
  if (found === undefined) throw new TypeError(`${what} must be a proxy made by this manager, got ${describe(proxy)}`);
  return found;
}

const lockProxy = (lock: SemLock, kind: string, holds: number[] = []): Entry => newEntry(kind, lock, undefined, (ref) => new RemoteSemLock(ref, kind), { holds });

const positive = (n: unknown, what: string): number => {
  if (!Number.isInteger(n) || (n as number) < 0) throw new RangeError(`${what} must be an integer >= 0, got ${describe(n)}`);
  return n as number;
};

/** How each built-in type is made from the arguments of its manager method. */
const MAKERS: Record<string, (args: any[]) => Entry> = {
  dict: ([init]) => {
    const given: Iterable<[unknown, unknown]> = init instanceof Map ? init : init === undefined || init === null ? [] : Array.isArray(init) ? pairsOf(init, 'dict()') : Object.entries(init);
    const map = new Map<unknown, unknown>([...given].map(([k, v]) => [dictKey(k), v]));
    containEach(map);
    return newEntry('dict', map, DICT, (ref) => new DictProxy(ref), { container: true });
  },
  list: ([init]) => {
    const array = init === undefined ? [] : itemsOf(init as Iterable<unknown>, 'list()');
    containEach(array);
    return newEntry('list', array, LIST, (ref) => new ListProxy(ref), { container: true });
  },
  namespace: ([init]) => {
    const map = new Map<string, unknown>(Object.entries(init ?? {}));
    containEach(map);
    return newEntry('namespace', map, NAMESPACE, namespaceData, { container: true });
  },
  value: ([init]) => {
    const box = { v: init };
    containEach(box);
    return newEntry('value', box, VALUE, (ref) => new ValueProxy(ref), { container: true });
  },
  queue: ([options]) => {
    const q = new SharedQueue({ maxsize: options?.maxsize ?? 0, capacityBytes: options?.capacityBytes });
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
    return newEntry('condition', cond, undefined, (ref) => new RemoteCondition(ref, lockEntry.proxy as RemoteSemLock), { holds: [lockEntry.id] });
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
    ops[name] = (obj, callArgs) => {
      const method = obj[name];
      if (typeof method !== 'function') throw new TypeError(`${typeid}.${name} is not a method (it is ${describe(method)})`);
      return method.apply(obj, callArgs); // counted for the caller by ManagedObject.call
    };
  }
  return newEntry(typeid, made, ops, (ref) => objectData(ref, typeid, exposed));
}


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
  /** The address the server hands out in its references (a client that reached it by another name maps it). */
  addr: string;
  version: number;
  pid: number;
  token: string;
  maxFrame: number;
  /** The callTimeout its proxies carry. */
  callTimeout: number;
}

SERVED.ManagerRoot = {
  /** The server's main thread tells the root where it is; the initializer runs here, in the objects' thread. */
  start: async (root: ManagerRoot, [ref, mgr, callTimeout]: any[]) => {
    state.base = { addr: ref.addr, key: ref.key, pid: ref.pid, maxFrame: ref.maxFrame, mgr, root: ref.id, where: whereOf(ref.addr), callTimeout };
    if (root.initializer !== undefined) await (await loadFunction(root.initializer))(...root.initargs);
  },
  hello: (): ServerInfo => ({
    addr: state.base!.addr,
    version: MANAGER_PROTOCOL,
    pid: process.pid,
    token: state.base!.mgr,
    maxFrame: state.base!.maxFrame,
    callTimeout: state.base!.callTimeout ?? DEFAULT_CALL_TIMEOUT_MS,
  }),
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
  /** A proxy of `id` is on its way to another process: count it for `ticket` until it arrives. */
  hold: (_root, [id, ticket]: any[]) => hold(id, ticket),
  /** The proxy held by `ticket` arrived: count it for this caller, then let the hold go. */
  arrived: (_root, [id, ticket]: any[], caller) => {
    const e = state.entries.get(id);
    if (e !== undefined && caller.alive) addCaller(e, caller.owner);
    unhold(ticket);
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
