/**
 * The caller's side of a proxy: every call goes to this thread's helper (started on
 * first use), which owns the sockets. A Promise call waits for its reply as a message;
 * a `*Sync` call blocks this thread on Atomics.wait until the helper hands the reply
 * over, so CPU-bound code keeps its blocking API across processes. Puts into an
 * unbounded queue of another process do not wait for a reply at all: they go into an
 * outbox (a SharedQueue of this process) that the helper ships to the owner in batches,
 * in order; a failure is reported by the next call on the same queue, or when the
 * task or target ends.
 */
import { isMainThread, MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { THREAD_BOOTSTRAP } from '../threads/bootstrap.js';
import { entryUrl } from '../util/entry-url.js';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import { SharedQueue } from '../queues/shared-queue.js';
import { waitAsync, waitSync } from '../sync/waiting.js';
import { ACKS, ASYNC, callIdOf, decodeReply, encodeCall, FAILURES, INFLIGHT, NO_REPLY, SYNC, type HelperRequest, type OutboxRegistration, type ProxyRef } from './protocol.js';

interface Helper {
  readonly worker: Worker;
  readonly flag: Int32Array;
  readonly window: Int32Array;
  readonly syncPort: MessagePort;
  readonly asyncPort: MessagePort;
  readonly failedPort: MessagePort;
}

/** Bytes of each outbox: a thread that fills it waits for the helper (flow control). */
const OUTBOX_BYTES = 4 << 20;

let helper: Helper | undefined;
const outboxes = new Map<string, SharedQueue>();
let failuresSeen = 0;
let nextCall = 1;
const waiting = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
/** Failures of pipelined calls not yet reported, by object. */
const failures = new Map<string, unknown>();

function startHelper(): Helper {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const window = new Int32Array(new SharedArrayBuffer(12));
  const sync = new MessageChannel();
  const replies = new MessageChannel();
  const failed = new MessageChannel();
  const worker = new Worker(THREAD_BOOTSTRAP, {
    eval: true,
    workerData: {
      entry: entryUrl(import.meta.url, 'proxy', 'client-entry'),
      flag,
      window,
      syncPort: sync.port2,
      asyncPort: replies.port2,
      failedPort: failed.port2,
    },
    transferList: [sync.port2, replies.port2, failed.port2],
    name: 'concur proxy client',
  });
  worker.unref();
  replies.port1.on('message', (frame: Uint8Array) => {
    const callId = callIdOf(frame);
    const w = waiting.get(callId);
    if (w === undefined) return;
    waiting.delete(callId);
    if (waiting.size === 0) replies.port1.unref();
    const [ok, value] = decodeReply(frame);
    if (ok) w.resolve(value);
    else w.reject(deserializeError(value as SerializedError));
  });
  replies.port1.unref();
  // Puts still on their way when the program runs out of work land before it exits.
  if (isMainThread) process.on('beforeExit', () => settleSync());
  return { worker, flag, window, syncPort: sync.port1, asyncPort: replies.port1, failedPort: failed.port1 };
}

function post(ref: ProxyRef, mode: number, op: string, args: unknown[]): number {
  helper ??= startHelper();
  // Call id 0 asks the owner for no answer at all.
  const callId = mode === NO_REPLY ? 0 : nextCall;
  if (mode !== NO_REPLY) nextCall = nextCall >= 0x7ffffff0 ? 1 : nextCall + 1; // the helper numbers its own calls from 2^31
  const frame = encodeCall(callId, ref.id, op, args);
  helper.worker.postMessage([ref.addr, ref.key, ref.pid, callId, mode, frame, ref.id] satisfies HelperRequest);
  return callId;
}

/** Calls `op` on the owner's object; the Promise settles with its result or its error. */
export function callRemote(ref: ProxyRef, op: string, args: unknown[] = []): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let callId: number;
    try {
      callId = post(ref, ASYNC, op, args);
    } catch (err) {
      reject(err);
      return;
    }
    // A call in flight keeps this process alive, as a waiting thread would.
    if (waiting.size === 0) helper!.asyncPort.ref();
    waiting.set(callId, { resolve, reject });
  });
}

/** Calls `op` on the owner's object, blocking this thread until it answers. */
export function callRemoteSync(ref: ProxyRef, op: string, args: unknown[] = []): unknown {
  const h = (helper ??= startHelper());
  // The helper counts its hand-overs (never resets the count), so no store of ours can
  // hide one; and a wait looks at the port again at least every SYNC_SLICE_MS whatever.
  const seen = Atomics.load(h.flag, 0);
  post(ref, SYNC, op, args);
  let got = receiveMessageOnPort(h.syncPort) as { message: Uint8Array } | undefined;
  while (got === undefined) {
    Atomics.wait(h.flag, 0, seen, SYNC_SLICE_MS);
    got = receiveMessageOnPort(h.syncPort) as { message: Uint8Array } | undefined;
  }
  const [ok, value] = decodeReply(got.message);
  if (ok) return value;
  throw deserializeError(value as SerializedError);
}

/** Longest a blocked sync call sleeps before it looks for its answer again. */
const SYNC_SLICE_MS = 200;

/** Calls `op` on the owner's object without waiting; its order among this thread's calls holds. */
export function sendRemote(ref: ProxyRef, op: string, args: unknown[] = []): void {
  post(ref, NO_REPLY, op, args);
}

const keyOf = (ref: ProxyRef): string => `${ref.addr}#${ref.id}`;

function collectFailures(h: Helper): void {
  failuresSeen = Atomics.load(h.window, FAILURES);
  for (let m = receiveMessageOnPort(h.failedPort); m !== undefined; m = receiveMessageOnPort(h.failedPort)) {
    const [object, frame] = m.message as [string, Uint8Array];
    if (!failures.has(object)) failures.set(object, deserializeError(decodeReply(frame)[1] as SerializedError));
  }
}

/** Throws the failure of an earlier put of this thread into `ref` (into any queue when undefined). */
function throwFailure(ref: ProxyRef | undefined): void {
  const h = helper;
  if (h === undefined) return;
  if (Atomics.load(h.window, FAILURES) !== failuresSeen) collectFailures(h);
  if (failures.size === 0) return;
  const key = ref === undefined ? failures.keys().next().value! : keyOf(ref);
  if (!failures.has(key)) return;
  const err = failures.get(key);
  failures.delete(key);
  throw err;
}

function outboxFor(ref: ProxyRef): SharedQueue {
  const key = keyOf(ref);
  let outbox = outboxes.get(key);
  if (outbox === undefined) {
    const h = (helper ??= startHelper());
    outbox = new SharedQueue({ capacityBytes: OUTBOX_BYTES });
    outboxes.set(key, outbox);
    h.worker.postMessage({ outbox, addr: ref.addr, key: ref.key, pid: ref.pid, objectId: ref.id } satisfies OutboxRegistration);
  }
  return outbox;
}

const tooLarge = (err: unknown): boolean => err instanceof RangeError && /cannot fit/.test(err.message);

/**
 * Puts `item` into the owner's queue without waiting for its answer (it goes into this
 * thread's outbox, blocking only while the outbox is full). Throws the failure of an
 * earlier such put into the same queue.
 */
export function enqueueSync(ref: ProxyRef, item: unknown): void {
  throwFailure(ref);
  try {
    outboxFor(ref).putSync(item);
  } catch (err) {
    if (!tooLarge(err)) throw err;
    // Larger than the outbox: after what is in it, on its own.
    settleSync(ref);
    callRemoteSync(ref, 'put', [item, undefined]);
  }
}

/** `enqueueSync` that waits for room in the outbox with the event loop free. */
export async function enqueue(ref: ProxyRef, item: unknown): Promise<void> {
  throwFailure(ref);
  try {
    await outboxFor(ref).put(item);
  } catch (err) {
    if (!tooLarge(err)) throw err;
    await settle(ref);
    await callRemote(ref, 'put', [item, undefined]);
  }
}

/** True once this thread has used a proxy (so there may be puts to settle). */
export function usesProxies(): boolean {
  return helper !== undefined;
}

function unsettled(h: Helper): boolean {
  if (Atomics.load(h.window, INFLIGHT) > 0) return true;
  for (const outbox of outboxes.values()) if (outbox.qsize() > 0) return true;
  return false;
}

/**
 * Waits until every put this thread sent ahead has landed at its owner, then throws the
 * failure of one of them into `ref` (into any queue when `ref` is undefined), if any.
 */
export function settleSync(ref?: ProxyRef): void {
  const h = helper;
  if (h === undefined) return;
  for (let acks = Atomics.load(h.window, ACKS); unsettled(h); acks = Atomics.load(h.window, ACKS)) waitSync(h.window, ACKS, acks, Infinity);
  throwFailure(ref);
}

/** `settleSync` with the event loop free. */
export async function settle(ref?: ProxyRef): Promise<void> {
  const h = helper;
  if (h === undefined) return;
  for (let acks = Atomics.load(h.window, ACKS); unsettled(h); acks = Atomics.load(h.window, ACKS)) await waitAsync(h.window, ACKS, acks, Infinity);
  throwFailure(ref);
}
