/**
 * How a manager's proxies call its server, and how long the objects they name live.
 * Every proxy method is one callManaged round trip; a container's has a deadline (the
 * callTimeout its reference carries), a registered type's method none.
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
import { EOFError, RemoteError, TimeoutError } from '../futures/errors.js';
import { bounded, callRemote, callRemoteSync, callRemoteSyncTimed } from '../proxy/client.js';
import { threadId } from 'node:worker_threads';
import { onCrossing } from '../proxy/proxies.js';
import type { ProxyRef } from '../proxy/protocol.js';
import { onLeaving, onRevive, reviveWithin } from '../sync/shared.js';
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
  // An id its server never made: the server at that address now is another one (a
  // manager restarted there); the one that made this object is gone.
  if (err instanceof Error && /^no object \d+ is served here$/.test(err.message)) {
    return new EOFError(`the manager at ${ref.where} (pid ${ref.pid}) that made this object is gone: the server there now is another, which has no object ${ref.id}`, { cause: err });
  }
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
