/**
 * The caller's side of a proxy: every call goes to this thread's helper (started on
 * first use), which owns the sockets. A Promise call waits for its reply as a message;
 * a `*Sync` call blocks this thread on Atomics.wait until the helper hands the reply
 * over, so CPU-bound code keeps its blocking API across processes.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { THREAD_BOOTSTRAP } from '../threads/bootstrap.js';
import { entryUrl } from '../util/entry-url.js';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import { ASYNC, callIdOf, decodeReply, encodeCall, NO_REPLY, SYNC, type HelperRequest, type ProxyRef } from './protocol.js';

interface Helper {
  readonly worker: Worker;
  readonly flag: Int32Array;
  readonly syncPort: MessagePort;
  readonly asyncPort: MessagePort;
}

let helper: Helper | undefined;
let nextCall = 1;
const waiting = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();

function startHelper(): Helper {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const sync = new MessageChannel();
  const replies = new MessageChannel();
  const worker = new Worker(THREAD_BOOTSTRAP, {
    eval: true,
    workerData: { entry: entryUrl(import.meta.url, 'proxy', 'client-entry'), flag, syncPort: sync.port2, asyncPort: replies.port2 },
    transferList: [sync.port2, replies.port2],
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
  return { worker, flag, syncPort: sync.port1, asyncPort: replies.port1 };
}

function post(ref: ProxyRef, mode: number, op: string, args: unknown[]): number {
  helper ??= startHelper();
  const callId = nextCall;
  nextCall = nextCall >= 0xfffffff0 ? 1 : nextCall + 1;
  const frame = encodeCall(callId, ref.id, op, args);
  helper.worker.postMessage([ref.addr, ref.key, ref.pid, callId, mode, frame] satisfies HelperRequest);
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
