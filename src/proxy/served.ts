/**
 * What the broker does for each proxy call: the operations of every shared kind, run
 * on the real object in the owner's broker thread on behalf of a remote caller. Waits
 * use the asynchronous forms, so one broker thread serves every caller at once.
 *
 * Whatever an operation takes for a caller that cannot have it (its connection closed
 * before the answer, or the answer is too large to send) is given back by the kind's
 * `undo`: a permit is released, an item goes back into its queue, a lock a Condition
 * wait re-acquired is released. A caller that gave up waiting asks for the same
 * (`giveBack`, `putBack`) when the owner's answer comes after its own deadline.
 */
import { MAX_CONDITION_WAITERS, type Condition } from '../sync/condition.js';
import type { Event } from '../sync/event.js';
import type { Barrier } from '../sync/barrier.js';
import type { Lock, SemLock } from '../sync/semlock.js';
import { kindOf } from '../sync/shared.js';
import type { SharedArray, Value } from '../sync/value.js';
import { encode, forEachRecord, type SharedQueue } from '../queues/shared-queue.js';
import { runAsync } from '../sync/waiting.js';
import { releaseIfHeld, runFor, tookLock, type Caller } from './callers.js';

export type { Caller } from './callers.js';

/**
 * Runs a caller's puts into a queue in the order they came: while one waits for room,
 * the next waits behind it. A put that lands at once costs no promise.
 */
function inOrder(caller: Caller, q: object, put: () => Promise<unknown> | undefined): Promise<unknown> | undefined {
  const before = caller.puts.get(q);
  const done = before === undefined ? put() : before.then(put);
  if (done === undefined) return undefined;
  const settled = done.catch(() => undefined);
  caller.puts.set(q, settled);
  void settled.then(() => {
    if (caller.puts.get(q) === settled) caller.puts.delete(q);
  });
  return done;
}

/**
 * Puts back an item a get took for nobody. It counts as no new item (the put that
 * brought it counted already): `join()` still waits for exactly one taskDone for it.
 */
async function putBack(q: SharedQueue, item: unknown): Promise<void> {
  try {
    // Through a plain shutdown too: the getters draining the queue take it (it was there).
    const record = encode(item);
    if (!q._tryPut(record, undefined, true)) await runAsync(q._putRecordSteps(record, undefined, false, undefined, true));
  } catch {
    // Shut down with immediate: the item is dropped with the others, so it will never be done either.
  }
  q.taskDone();
}

/**
 * Releases a permit or lock taken for `caller`. A Lock only while it still records the
 * caller as its holder: anyone may release a Lock, so another may have done so and
 * taken it since.
 */
function giveBack(lock: SemLock, caller: Caller): void {
  if (kindOf(lock) === 'Lock') (lock as Lock)._releaseIfHeldBy(caller.owner);
  else lock._release(1, caller.owner);
}

type Op<T> = (target: T, args: any[], caller: Caller) => unknown;
type Ops<T> = Record<string, Op<T>>;
/** Gives back what `op` returned (`value`) for a caller that cannot have it. */
type Undo<T> = (target: T, op: string, value: unknown, caller: Caller) => void;

const semlock: Ops<SemLock & { locked?(): boolean; value?: number }> = {
  acquire: async (lock, [options], caller) => {
    const got = await runFor(lock._acquireSteps(options ?? {}, caller.owner), caller, () => true);
    if (got && caller.alive) tookLock(lock, caller);
    return got;
  },
  release: (lock, [n], caller) => {
    lock._release(n ?? 1, caller.owner);
  },
  /** The caller gave up on an acquire the owner granted late. */
  giveBack: (lock, _args, caller) => giveBack(lock, caller),
  locked: (lock) => lock.locked!(),
  value: (lock) => lock.value,
};
const semlockUndo: Undo<SemLock> = (lock, op, got, caller) => {
  if (op === 'acquire' && got === true) giveBack(lock, caller);
};

const condition: Ops<Condition> = {
  wait: async (cond, [timeout], caller) => {
    // The wait gives the lock up, and its place ends the moment the caller is gone.
    const woke = await runFor(cond._waitSteps(timeout, caller.owner), caller, (r) => r.view === cond._state);
    if (caller.alive) tookLock(cond.lock, caller);
    return woke;
  },
  notify: (cond, [n], caller) => cond._notify(n ?? 1, caller.owner),
  notifyAll: (cond, _args, caller) => cond._notify(MAX_CONDITION_WAITERS, caller.owner),
};
// A wait ends holding the lock, whatever it returns: the lock goes back, if the caller
// still holds it (released outright, a plain Lock would be freed under whoever took it).
const conditionUndo: Undo<Condition> = (cond, op, _woke, caller) => {
  if (op === 'wait') releaseIfHeld(cond.lock as SemLock, caller);
};

const event: Ops<Event> = {
  set: (e) => e.set(),
  clear: (e) => e.clear(),
  isSet: (e) => e.isSet(),
  wait: (e, [timeout], caller) => runFor(e._waitSteps(timeout), caller, () => true),
};

const barrier: Ops<Barrier> = {
  // Arrivals record the caller. Its departure ends the moment the caller is gone, and a
  // departure that ends early breaks the generation: a caller whose process died while
  // it waited breaks the barrier, as a thread terminated while waiting does. An arrival
  // still waiting for a pass to end is not made for a caller that is gone.
  wait: (b, [timeout], caller) =>
    b._wait(
      timeout,
      caller.owner,
      (steps) => runFor(steps, caller, () => false),
      (steps) => runFor(steps, caller, () => true),
      () => caller.alive,
    ),
  abort: (b) => b.abort(),
  reset: (b) => b.reset(),
  broken: (b) => b.broken,
  nWaiting: (b) => b.nWaiting,
};

const value: Ops<Value> = {
  get: (v) => v.value,
  set: (v, [x]) => {
    v.value = x;
  },
};

const sharedArray: Ops<SharedArray> = {
  get: (a, [i]) => a.array[i],
  set: (a, [i, x]) => {
    (a.array as unknown as Record<number, unknown>)[i] = x;
  },
  slice: (a, [start, end]) => Array.from(a.array.subarray(start, end) as ArrayLike<unknown>),
};

const queue: Ops<SharedQueue> = {
  put: (q, [item, timeout], caller) =>
    inOrder(caller, q, () => (q._tryPut(encode(item, true)) ? undefined : q.put(item, { timeout }))),
  // A batch of what one thread of another process put, as raw records, in its order.
  putRecords: (q, [bytes], caller) =>
    inOrder(caller, q, () => {
      const records: Uint8Array[] = [];
      forEachRecord(bytes, (r) => records.push(r));
      let i = 0;
      while (i < records.length && q._tryPut(records[i]!)) i++;
      if (i === records.length) return undefined;
      return (async () => {
        for (; i < records.length; i++) await runAsync(q._putRecordSteps(records[i]!, undefined));
      })();
    }),
  putNowait: (q, [item]) => q.putNowait(item),
  get: (q, [timeout], caller) => runFor(q._getSteps(timeout), caller, () => true),
  getNowait: (q) => q.getNowait(),
  /** The caller gave up on a get the owner answered late: the item goes back. */
  putBack: (q, [item]) => putBack(q, item),
  qsize: (q) => q.qsize(),
  empty: (q) => q.empty(),
  full: (q) => q.full(),
  taskDone: (q) => q.taskDone(),
  join: (q) => q.join(),
  shutdown: (q, [options]) => q.shutdown(options),
};
const queueUndo: Undo<SharedQueue> = (q, op, item) => {
  if (op === 'get' || op === 'getNowait') void putBack(q, item);
};

/** The operations of each shared kind, by the name the kind registered under. */
export const SERVED: Record<string, Ops<any>> = {
  Lock: semlock,
  RLock: semlock,
  Semaphore: semlock,
  BoundedSemaphore: semlock,
  Condition: condition,
  Event: event,
  Barrier: barrier,
  Value: value,
  SharedArray: sharedArray,
  SharedQueue: queue,
  SharedLifoQueue: queue,
  SharedPriorityQueue: queue,
};

/**
 * Kinds whose undo also runs when a reply cannot be written to a caller that died
 * before its connection's close was seen: an item a get took comes back. (A lock it was
 * granted is not undone here: callerGone releases what a dead caller holds.)
 */
export const UNDO_LOST_REPLY: ReadonlySet<string> = new Set(['SharedQueue', 'SharedLifoQueue', 'SharedPriorityQueue']);

/** How each kind gives back what an operation took for a caller that cannot have it. */
export const UNDO: Record<string, Undo<any>> = {
  Lock: semlockUndo,
  RLock: semlockUndo,
  Semaphore: semlockUndo,
  BoundedSemaphore: semlockUndo,
  Condition: conditionUndo,
  SharedQueue: queueUndo,
  SharedLifoQueue: queueUndo,
  SharedPriorityQueue: queueUndo,
};
