/**
 * What the broker does for each proxy call: the operations of every shared kind, run
 * on the real object in the owner's broker thread on behalf of a remote caller. Waits
 * use the asynchronous forms, so one broker thread serves every caller at once.
 */
import { MAX_CONDITION_WAITERS, type Condition } from '../sync/condition.js';
import type { Event } from '../sync/event.js';
import type { Barrier } from '../sync/barrier.js';
import type { SemLock } from '../sync/semlock.js';
import type { SharedArray, Value } from '../sync/value.js';
import { encode, forEachRecord, type SharedQueue } from '../queues/shared-queue.js';
import { runAsync } from '../sync/waiting.js';

/** Who a call is for: the owner id locks record, and whether its connection is still open. */
export interface Caller {
  readonly owner: number;
  alive: boolean;
  /** The last put of this caller into each queue: its puts land in the order it made them. */
  readonly puts: Map<object, Promise<unknown>>;
}

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

type Op<T> = (target: T, args: any[], caller: Caller) => unknown;
type Ops<T> = Record<string, Op<T>>;

const semlock: Ops<SemLock & { locked?(): boolean; value?: number }> = {
  acquire: async (lock, [options], caller) => {
    const got = await runAsync(lock._acquireSteps(options ?? {}, caller.owner));
    // The caller went away while it waited: the permit it would have taken goes back.
    if (got && !caller.alive) lock._release(1, caller.owner);
    return got;
  },
  release: (lock, [n], caller) => lock._release(n ?? 1, caller.owner),
  locked: (lock) => lock.locked!(),
  value: (lock) => lock.value,
};

const condition: Ops<Condition> = {
  wait: (cond, [timeout], caller) => runAsync(cond._waitSteps(timeout, caller.owner)),
  notify: (cond, [n], caller) => cond._notify(n ?? 1, caller.owner),
  notifyAll: (cond, _args, caller) => cond._notify(MAX_CONDITION_WAITERS, caller.owner),
};

const event: Ops<Event> = {
  set: (e) => e.set(),
  clear: (e) => e.clear(),
  isSet: (e) => e.isSet(),
  wait: (e, [timeout]) => runAsync(e._waitSteps(timeout)),
};

const barrier: Ops<Barrier> = {
  wait: (b, [timeout]) => b.wait(timeout),
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
  get: async (q, [timeout], caller) => {
    const item = await q.get({ timeout });
    // Nobody is left to take it: it goes back rather than vanishing.
    if (!caller.alive) q.putNowait(item);
    return item;
  },
  getNowait: (q) => q.getNowait(),
  qsize: (q) => q.qsize(),
  empty: (q) => q.empty(),
  full: (q) => q.full(),
  taskDone: (q) => q.taskDone(),
  join: (q) => q.join(),
  shutdown: (q, [options]) => q.shutdown(options),
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
};
