/**
 * The caller's side of a proxy: every call goes to this thread's helper (started on
 * first use), which owns the sockets. A Promise call waits for its reply as a message;
 * a `*Sync` call blocks this thread on Atomics.wait until the helper hands the reply
 * over, so CPU-bound code keeps its blocking API across processes. Pipelined calls
 * (puts into an unbounded queue) do not wait for their reply at all: up to WINDOW of
 * them are in flight per thread, and a failure is reported by the next call on the
 * same object, or when the task or target ends.
 */
import { isMainThread, MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { THREAD_BOOTSTRAP } from '../threads/bootstrap.js';
import { entryUrl } from '../util/entry-url.js';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import { ASYNC, callIdOf, decodeReply, encodeCall, NO_REPLY, PIPELINED, SYNC, WINDOW, type HelperRequest, type ProxyRef } from './protocol.js';

interface Helper {
  readonly worker: Worker;
  readonly flag: Int32Array;
  readonly window: Int32Array;
  readonly syncPort: MessagePort;
  readonly asyncPort: MessagePort;
  readonly failedPort: MessagePort;
}

let helper: Helper | undefined;
let nextCall = 1;
const waiting = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
/** Failures of pipelined calls not yet reported, by object. */
const failures = new Map<string, unknown>();

function startHelper(): Helper {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const window = new Int32Array(new SharedArrayBuffer(4));
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
  const callId = nextCall;
  nextCall = nextCall >= 0xfffffff0 ? 1 : nextCall + 1;
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
  Atomics.store(h.flag, 0, 0);
  post(ref, SYNC, op, args);
  let got: { message: Uint8Array } | undefined;
  for (;;) {
    Atomics.wait(h.flag, 0, 0);
    got = receiveMessageOnPort(h.syncPort) as { message: Uint8Array } | undefined;
    if (got !== undefined) break;
    Atomics.store(h.flag, 0, 0);
  }
  const [ok, value] = decodeReply(got.message);
  if (ok) return value;
  throw deserializeError(value as SerializedError);
}

/** Calls `op` on the owner's object without waiting; its order among this thread's calls holds. */
export function sendRemote(ref: ProxyRef, op: string, args: unknown[] = []): void {
  post(ref, NO_REPLY, op, args);
}

const keyOf = (ref: ProxyRef): string => `${ref.addr}#${ref.id}`;

function collectFailures(h: Helper): void {
  for (let m = receiveMessageOnPort(h.failedPort); m !== undefined; m = receiveMessageOnPort(h.failedPort)) {
    const [object, frame] = m.message as [string, Uint8Array];
    if (!failures.has(object)) failures.set(object, deserializeError(decodeReply(frame)[1] as SerializedError));
  }
}

function throwFailure(ref: ProxyRef | undefined): void {
  const h = helper!;
  collectFailures(h);
  const key = ref === undefined ? failures.keys().next().value : keyOf(ref);
  if (key === undefined || !failures.has(key)) return;
  const err = failures.get(key);
  failures.delete(key);
  throw err;
}

/**
 * Sends a call whose reply nobody waits for, once the window has room (blocking this
 * thread until it has). Throws the failure of an earlier pipelined call on this object.
 */
export function pipelineSync(ref: ProxyRef, op: string, args: unknown[]): void {
  const h = (helper ??= startHelper());
  if (Atomics.load(h.window, 0) >= WINDOW) {
    for (let n = Atomics.load(h.window, 0); n > WINDOW >> 1; n = Atomics.load(h.window, 0)) Atomics.wait(h.window, 0, n);
  }
  throwFailure(ref);
  Atomics.add(h.window, 0, 1);
  post(ref, PIPELINED, op, args);
}

/** `pipelineSync` that waits for room with the event loop free. */
export async function pipeline(ref: ProxyRef, op: string, args: unknown[]): Promise<void> {
  const h = (helper ??= startHelper());
  if (Atomics.load(h.window, 0) >= WINDOW) {
    for (let n = Atomics.load(h.window, 0); n > WINDOW >> 1; n = Atomics.load(h.window, 0)) await Atomics.waitAsync(h.window, 0, n).value;
  }
  throwFailure(ref);
  Atomics.add(h.window, 0, 1);
  post(ref, PIPELINED, op, args);
}

/** True once this thread has used a proxy (so there may be pipelined calls to settle). */
export function usesProxies(): boolean {
  return helper !== undefined;
}

/**
 * Waits until every pipelined call of this thread has been answered, then throws the
 * failure of one of them on `ref` (on any object when `ref` is undefined), if any.
 */
export function settleSync(ref?: ProxyRef): void {
  if (helper === undefined) return;
  for (let n = Atomics.load(helper.window, 0); n > 0; n = Atomics.load(helper.window, 0)) Atomics.wait(helper.window, 0, n);
  throwFailure(ref);
}

/** `settleSync` with the event loop free. */
export async function settle(ref?: ProxyRef): Promise<void> {
  if (helper === undefined) return;
  for (let n = Atomics.load(helper.window, 0); n > 0; n = Atomics.load(helper.window, 0)) await Atomics.waitAsync(helper.window, 0, n).value;
  throwFailure(ref);
}
