/**
 * The manager's entries and their counts, in its server's broker thread. Every entry
 * counts who refers to it: each caller (one connection: one thread of a client
 * process) by the proxies it was handed or revived, and each container (or Condition)
 * that holds a proxy of it. An entry whose count falls to zero is freed, and what it
 * held is released in turn. A caller whose connection closes (its process died, or
 * disconnected) drops every count it had.
 */
import { onCallerGone, type Caller } from '../proxy/callers.js';
import { forgetObject, serveLocal } from '../proxy/objects.js';
import { SERVED } from '../proxy/served.js';
import { registerShared } from '../sync/shared.js';
import type { FunctionSpec } from '../tasks/describe.js';
import { forEachProxy, type ManagedRef } from './refs.js';

/** An operation of a container or a registered type: on the entry's value, for a caller. */
export type Op = (value: any, args: any[], caller: Caller, entry: Entry) => unknown;

/** One object of the manager. */
export interface Entry {
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
export const state = {
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

export function token(): string {
  return state.base!.mgr;
}

export function addCaller(entry: Entry, owner: number, n = 1): void {
  entry.callers.set(owner, (entry.callers.get(owner) ?? 0) + n);
  let ids = state.byCaller.get(owner);
  if (ids === undefined) state.byCaller.set(owner, (ids = new Set()));
  ids.add(entry.id);
}

export function dropCaller(entry: Entry, owner: number): void {
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
  if (entry.container) uncontainEach(entry.value);
  for (const id of entry.holds) release(id);
}

function release(id: number): void {
  const e = state.entries.get(id);
  if (e === undefined) return;
  e.contained--;
  freeIfUnused(e);
}

/**
 * Counts the proxies of this manager inside `value`, which a container now holds in one
 * of its slots (a list's item, a dict's key or value). A proxy is counted once per slot
 * however often the value repeats it, and `uncontain` of the same value releases it as
 * often: a slot is always counted and released whole, so the two agree.
 */
export function contain(value: unknown): void {
  forEachProxy(value, token(), (_p, ref) => {
    const e = state.entries.get(ref.id);
    if (e !== undefined) e.contained++;
  });
}

/** Releases the proxies of this manager inside `value`, a slot's content a container no longer holds. */
export function uncontain(value: unknown): void {
  forEachProxy(value, token(), (_p, ref) => release(ref.id));
}

/** What a container holds, slot by slot: a Map's keys and values, an array's items, a box's value. */
function slotsOf(container: object): Iterable<unknown> {
  if (container instanceof Map) return [...container].flat();
  if (Array.isArray(container)) return container;
  return Object.values(container);
}

/** `contain` for every slot of a new container (the same proxy in two slots counts twice). */
export function containEach(container: object): void {
  for (const v of slotsOf(container)) contain(v);
}

/** `uncontain` for every slot of a container that is emptied or freed. */
export function uncontainEach(container: object): void {
  for (const v of slotsOf(container)) uncontain(v);
}

/** Values the running call took out of their containers: released once its answer is counted. */
let takenOut: unknown[] | undefined;

/**
 * Takes `value` out of a container for the running call's caller: released only after
 * the answer is counted for the caller (released first, it could be freed in between).
 */
export function takeOut<T>(value: T): T {
  if (takenOut === undefined) throw new Error('takeOut outside a call');
  takenOut.push(value);
  return value;
}

/** Counts the proxies in `value` for `caller`, who is about to receive them; returns `value`. */
export function out<T>(caller: Caller, value: T): T {
  if (!caller.alive) return value; // gone while its call ran: nothing will reach it, and nobody would count down
  forEachProxy(value, token(), (_p, ref) => {
    const e = state.entries.get(ref.id);
    if (e !== undefined) addCaller(e, caller.owner);
  });
  return value;
}

/**
 * How long a gone caller's counts outlive it: a proxy it handed on just before it went
 * (a thread's result, a message) has this long to be revived and counted by its
 * receiver. Its locks go at once (proxy/callers.ts).
 */
const GONE_GRACE_MS = 2_000;

onCallerGone((caller) => {
  setTimeout(() => dropAll(caller), GONE_GRACE_MS);
});

/** Drops every count `caller` had (its connection closed). */
function dropAll(caller: Caller): void {
  const ids = state.byCaller.get(caller.owner);
  if (ids === undefined) return;
  state.byCaller.delete(caller.owner);
  for (const id of ids) {
    const e = state.entries.get(id);
    if (e === undefined) continue;
    e.callers.delete(caller.owner);
    freeIfUnused(e);
  }
}

// ---- holds of proxies on their way to another process ------------------------------

/**
 * How long a hold waits for its receiver (managed-calls.ts heldCrossing). A receiver
 * takes a proxy in as it arrives, or as its process starts; one that never does has
 * died, or its message was lost, and the object should not live for ever on its account.
 */
const HOLD_MS = Number(process.env.CONCUR_TEST_HOLD_MS) > 0 ? Number(process.env.CONCUR_TEST_HOLD_MS) : 10 * 60_000; // the variable: a test seam
/** At most this many holds at once: beyond, a sender keeps its proxy alive itself (a peer cannot grow the server without bound). */
const MAX_HOLDS = 100_000;
/** A ticket is a short string of the sender's making. */
const MAX_TICKET = 96;

const holds = new Map<string, { id: number; timer: ReturnType<typeof setTimeout> }>();

/** Counts entry `id` for `ticket` until `arrived(ticket)` or HOLD_MS; false when there is nothing to hold (freed) or no room. */
export function hold(id: number, ticket: unknown): boolean {
  if (typeof ticket !== 'string' || ticket.length > MAX_TICKET) throw new TypeError('a hold needs a ticket: a string of at most 96 characters');
  const e = state.entries.get(id);
  if (e === undefined || holds.has(ticket) || holds.size >= MAX_HOLDS) return false;
  e.contained++;
  const timer = setTimeout(() => unhold(ticket), HOLD_MS);
  timer.unref();
  holds.set(ticket, { id, timer });
  return true;
}

/** Ends the hold `ticket` (its receiver took the proxy in, or it expired); an unknown ticket changes nothing. */
export function unhold(ticket: unknown): void {
  const h = typeof ticket === 'string' ? holds.get(ticket) : undefined;
  if (h === undefined) return;
  holds.delete(ticket as string);
  clearTimeout(h.timer);
  release(h.id);
}

// ---- making objects ---------------------------------------------------------------

/** What the broker serves for a container or a registered type: calls go to its entry's operations. */
class ManagedObject {
  entry!: Entry;
  /**
   * Runs `op`; whatever it returns is counted for `caller` here, on every path (a value
   * of the container, or an argument given back, such as a pop's default).
   */
  call(op: string, args: unknown[], caller: Caller): unknown {
    const fn = Object.hasOwn(this.entry.ops!, op) ? this.entry.ops![op] : undefined;
    if (fn === undefined) throw new Error(`a ${this.entry.typeid} of a manager has no method ${JSON.stringify(op)}`);
    const outer = takenOut; // a call made inside another call's operation keeps that one's list
    const taken: unknown[] = (takenOut = []);
    try {
      const result = fn(this.entry.value, args, caller, this.entry);
      return result instanceof Promise ? result.then((value: unknown) => out(caller, value)) : out(caller, result);
    } finally {
      takenOut = outer;
      for (const v of taken) uncontain(v);
    }
  }
}
registerShared('ManagedObject', ManagedObject);
SERVED.ManagedObject = new Proxy(
  {},
  { get: (_t, op) => (typeof op === 'string' ? (target: ManagedObject, args: unknown[], caller: Caller) => target.call(op, args, caller) : undefined) },
);

/** Sets `key` of a Map-like container to `value`, releasing what it replaces. */

function refFor(id: number): ManagedRef {
  return { ...state.base!, id };
}

/**
 * Serves `value` as a new entry; `proxyOf` builds its proxy data from its reference.
 * Calls go to `ops` when given (a container, whose contents are counted, or a
 * registered type), else to the primitive's own operations.
 */
export function newEntry(
  typeid: string,
  value: object,
  ops: Record<string, Op> | undefined,
  proxyOf: (ref: ManagedRef) => object,
  { holds = [], container = false }: { holds?: number[]; container?: boolean } = {},
): Entry {
  const target = ops === undefined ? value : new ManagedObject();
  const id = serveLocal(target);
  const entry: Entry = { id, typeid, value, ops, container, proxy: proxyOf(refFor(id)), callers: new Map(), contained: 0, holds };
  if (target instanceof ManagedObject) target.entry = entry;
  state.entries.set(id, entry);
  for (const h of holds) state.entries.get(h)!.contained++;
  return entry;
}

