/**
 * The caller's side of a proxy: every call goes to this thread's helper (started on
 * first use), which owns the sockets. A Promise call waits for its reply as a message;
 * a `*Sync` call blocks this thread on Atomics.wait until the helper hands the reply
 * over, so CPU-bound code keeps its blocking API across processes. Puts into an
 * unbounded queue of another process do not wait for a reply at all: they go into an
 * outbox (a SharedQueue of this process) that the helper ships to the owner in batches,
 * in order; a failure is reported by the next call on the same queue, or when the
 * task or target ends. Writes (`value = x`) do not wait either, but are counted until
 * they have landed, as puts are: `settle()` waits for both.
 *
 * No wait here sleeps without bound: each sleeps in slices and looks again. A call
 * with a timeout ends by its caller's own deadline (the timeout plus CALLER_GRACE_MS)
 * even if its owner cannot answer (stopped, say); the helper then gives back whatever
 * the owner grants late. A blocked call whose owner process is gone, or whose helper
 * thread exited, fails with an error that says which.
 */
import { isMainThread, MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { THREAD_BOOTSTRAP } from '../threads/bootstrap.js';
import { entryUrl } from '../util/entry-url.js';
import { EOFError } from '../futures/errors.js';
import { checkTimeout } from '../futures/future.js';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import { waitSync } from '../sync/waiting.js';
import { sentAhead } from '../sync/publish.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';
import { Lane, LaneClosed, lanesPossible, makeLane } from './lane.js';
import { Outboxes, type HelperLink } from './outbox.js';
import {
  ACKS,
  ASYNC,
  callIdOf,
  decodeReply,
  encodeCall,
  HELPER_GONE,
  INFLIGHT,
  isTcp,
  LANE_OBJECT,
  LANE_OP,
  NO_REPLY,
  SYNC,
  TRACKED,
  WINDOW_SLOTS,
  type Abandon,
  type Abandoned,
  type HelperRequest,
  type ProxyRef,
} from './protocol.js';

interface Helper extends HelperLink {
  readonly syncPort: MessagePort;
  readonly asyncPort: MessagePort;
}

/**
 * The helper's bootstrap: however its thread ends, even before its entry module has
 * loaded, a thread blocked on one of its answers learns that none will come.
 */
const HELPER_BOOTSTRAP = `{
  const { flag, window } = require('node:worker_threads').workerData;
  process.on('exit', () => {
    Atomics.store(window, ${HELPER_GONE}, 1);
    Atomics.add(flag, 0, 1);
    Atomics.notify(flag, 0);
    Atomics.add(window, ${ACKS}, 1);
    Atomics.notify(window, ${ACKS});
  });
}
${THREAD_BOOTSTRAP}`;

/** How long a caller waits for its owner's answer beyond the call's own timeout. */
export const CALLER_GRACE_MS = 1000;
/** How often a blocked call looks whether its owner process still exists. */
const OWNER_CHECK_MS = 1000;

/** What a call with a timeout does when its caller's own deadline passes before the owner answers. */
export interface Bound {
  /** performance.now() at which the caller stops waiting. */
  giveUpAt: number;
  /** What the call returns (or throws) then. */
  giveUp(): unknown;
  /** How a late answer is given back (nothing to give back when absent). */
  undo?: Abandon['undo'];
}

/**
 * The bound of a call with `timeout` (none without one). The timeout is checked here,
 * so a bad one fails at once rather than after a trip to a stopped owner.
 */
export function bounded(timeout: number | undefined, giveUp: (waited: string) => unknown, undo?: Abandon['undo']): Bound | undefined {
  checkTimeout(timeout);
  if (timeout === undefined) return undefined;
  const waited = `${timeout} ms (its timeout) + ${CALLER_GRACE_MS} ms`;
  return { giveUpAt: performance.now() + timeout + CALLER_GRACE_MS, giveUp: () => giveUp(waited), undo };
}

let helper: Helper | undefined;
let nextCall = 1;
const waiting = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; bound: Bound | undefined; timer: LongTimeout | undefined }>();
const outboxes = new Outboxes(
  () => liveHelper(),
  (h) => retire(h as Helper),
  (ref, op, args) => callRemote(ref, op, args),
  (ref, op, args) => callRemoteSync(ref, op, args),
);

function startHelper(): Helper {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const window = new Int32Array(new SharedArrayBuffer(4 * WINDOW_SLOTS));
  const sync = new MessageChannel();
  const replies = new MessageChannel();
  const failed = new MessageChannel();
  const worker = new Worker(HELPER_BOOTSTRAP, {
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
  const h: Helper = { worker, flag, window, syncPort: sync.port1, asyncPort: replies.port1, failedPort: failed.port1 };
  // A helper that fails must not take this thread with it: its callers are told instead.
  worker.on('error', () => {});
  worker.once('exit', () => retire(h));
  replies.port1.on('message', (msg: Uint8Array | Abandoned) => {
    const abandoned = !(msg instanceof Uint8Array);
    const callId = abandoned ? msg.abandoned : callIdOf(msg);
    const w = waiting.get(callId);
    if (w === undefined) return;
    waiting.delete(callId);
    w.timer?.clear();
    if (waiting.size === 0) replies.port1.unref();
    try {
      w.resolve(abandoned ? w.bound!.giveUp() : valueOf(msg));
    } catch (err) {
      w.reject(err);
    }
  });
  replies.port1.unref();
  return h;
}

// Puts and writes still on their way when the program runs out of work land before it exits.
if (isMainThread) process.on('beforeExit', () => outboxes.settleSync(helper));

/** This thread's helper, started (again, if the last one exited) on first use. */
function liveHelper(): Helper {
  if (helper !== undefined && Atomics.load(helper.window, HELPER_GONE) === 1) throw retire(helper);
  return (helper ??= startHelper());
}

/** The helper exited: nothing it held will be answered. Returns the error its callers get. */
function retire(h: Helper): Error {
  const err = new Error("concur: this thread's proxy helper thread exited; calls, puts and writes it had not answered are lost");
  if (helper !== h) return err;
  helper = undefined;
  closeLanes();
  outboxes.clear();
  for (const w of waiting.values()) {
    w.timer?.clear();
    w.reject(err);
  }
  waiting.clear();
  h.asyncPort.unref();
  return err;
}

function valueOf(frame: Uint8Array): unknown {
  const [ok, value] = decodeReply(frame);
  if (ok) return value;
  throw deserializeError(value as SerializedError);
}

function post(ref: ProxyRef, mode: number, op: string, args: unknown[]): { h: Helper; callId: number } {
  const h = liveHelper();
  // Call id 0 asks the owner for no answer at all.
  const callId = mode === NO_REPLY ? 0 : nextCall;
  if (mode !== NO_REPLY) nextCall = nextCall >= 0x7ffffff0 ? 1 : nextCall + 1; // the helper numbers its own calls from 2^31
  const frame = encodeCall(callId, ref.id, op, args);
  if (frame.length > ref.maxFrame) {
    throw new RangeError(`a call of ${frame.length} bytes through a proxy (${op}) is over the frame limit of ${ref.maxFrame} bytes (maxFrameBytes of the owner, pid ${ref.pid})`);
  }
  h.worker.postMessage([ref.addr, ref.key, ref.pid, callId, mode, frame, ref.id, ref.maxFrame] satisfies HelperRequest);
  return { h, callId };
}

const abandon = (h: Helper, ref: ProxyRef, callId: number, undo: Abandon['undo']): void =>
  h.worker.postMessage({ abandon: callId, addr: ref.addr, undo } satisfies Abandon);

/** Calls `op` on the owner's object; the Promise settles with its result or its error (or, past `bound`, its give-up). */
export function callRemote(ref: ProxyRef, op: string, args: unknown[] = [], bound?: Bound): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let h: Helper, callId: number;
    try {
      outboxes.throwFailure(ref, helper);
      ({ h, callId } = post(ref, ASYNC, op, args));
    } catch (err) {
      reject(err);
      return;
    }
    // A call in flight keeps this process alive, as a waiting thread would.
    if (waiting.size === 0) h.asyncPort.ref();
    const w = { resolve, reject, bound, timer: undefined as LongTimeout | undefined };
    waiting.set(callId, w);
    // Unref'd: the call in flight keeps the process alive.
    if (bound !== undefined) w.timer = setLongTimeout(() => abandon(h, ref, callId, bound.undo), bound.giveUpAt - performance.now()).unref();
  });
}

/** Calls `op` on the owner's object, blocking this thread until it answers (or, past `bound`, gives up). */
export function callRemoteSync(ref: ProxyRef, op: string, args: unknown[] = [], bound?: Bound): unknown {
  outboxes.throwFailure(ref, helper);
  if (bound === undefined) {
    const lane = laneTo(ref);
    if (lane !== undefined) return callThrough(lane, ref, op, args);
  }
  const { h, callId } = post(ref, SYNC, op, args);
  const giveUpAt = bound?.giveUpAt ?? Infinity;
  let gaveUp: 'deadline' | 'owner' | undefined;
  let ownerCheck = performance.now() + OWNER_CHECK_MS;
  for (;;) {
    // The helper posts, then bumps the flag: read the flag first, so a hand-over after
    // the look at the port changes it and the wait below returns at once.
    const seen = Atomics.load(h.flag, 0);
    for (let m = receiveMessageOnPort(h.syncPort); m !== undefined; m = receiveMessageOnPort(h.syncPort)) {
      const msg = m.message as Uint8Array | Abandoned;
      if (msg instanceof Uint8Array) {
        if (callIdOf(msg) === callId) return valueOf(msg);
      } else if (msg.abandoned === callId) {
        if (gaveUp === 'owner') throw new EOFError(`the process that owns this object (pid ${ref.pid}) has exited`);
        return bound!.giveUp();
      }
    }
    if (Atomics.load(h.window, HELPER_GONE) === 1) throw retire(h);
    if (gaveUp === undefined) {
      const now = performance.now();
      if (now >= giveUpAt) gaveUp = 'deadline';
      else if (now >= ownerCheck) {
        ownerCheck = now + OWNER_CHECK_MS;
        // Over TCP the owner may be on another machine: its connection and heartbeat say whether it lives.
        if (!isTcp(ref.addr) && !processExists(ref.pid)) gaveUp = 'owner';
      }
      // The helper decides: the reply, if it already went, or word that none will come.
      if (gaveUp !== undefined) abandon(h, ref, callId, bound?.undo);
    }
    waitSync(h.flag, 0, seen, gaveUp === undefined ? giveUpAt : Infinity);
  }
}

// ---- lanes (lane.ts) ------------------------------------------------------------

/** Whether this thread may open lanes: the main thread only (a worker blocked in a read could not be terminated). */
const lanesAllowed = lanesPossible && isMainThread && process.env.CONCUR_PROXY_LANES !== '0';
/** Synchronous calls to one owner after which its lane opens (a process that calls a few times pays no setup). */
const LANE_AFTER_CALLS = 16;

interface LaneState {
  calls: number;
  lane: Lane | undefined;
  /** The owner would not open one (another user's, say): calls go through the helper. */
  refused: boolean;
}
const lanes = new Map<string, LaneState>();
// The reference of the last call and its lane's state: a loop of calls on one proxy finds it at once.
let lastRef: ProxyRef | undefined;
let lastState: LaneState | undefined;

function closeLanes(): void {
  for (const state of lanes.values()) state.lane?.close();
  lanes.clear();
  lastRef = lastState = undefined;
}

/**
 * This thread's lane to `ref`'s owner, opened after a few calls, or undefined when the
 * call must go through the helper: lanes are not allowed here, the owner is on TCP or
 * would not open one, or this thread has puts or writes in flight through its helper
 * (they land before its later calls). A Promise call still in flight is not waited
 * for: its order against later calls was never promised (it may wait at the owner, and
 * its answer comes only when this thread's event loop runs).
 */
function laneTo(ref: ProxyRef): Lane | undefined {
  if (!lanesAllowed || isTcp(ref.addr)) return undefined;
  const h = helper;
  if (h === undefined || Atomics.load(h.window, INFLIGHT) > 0) return undefined;
  let state = ref === lastRef ? lastState : undefined;
  if (state === undefined) {
    const key = `${ref.pid}:${ref.addr}`;
    state = lanes.get(key);
    if (state === undefined) lanes.set(key, (state = { calls: 0, lane: undefined, refused: false }));
    lastRef = ref;
    lastState = state;
  }
  if (state.lane !== undefined && !state.lane.closed) return state.lane;
  if (state.refused || state.lane !== undefined || ++state.calls < LANE_AFTER_CALLS) return undefined;
  state.refused = true; // until it opens: a call made while it opens goes through the helper
  try {
    state.lane = makeLane((request, reply, memory) => callRemoteSync({ ...ref, id: LANE_OBJECT }, LANE_OP, [request, reply, memory]));
    state.refused = false;
  } catch {
    // no lane (no mkfifo, another user's owner, an owner gone): the helper serves as before
  }
  return state.lane;
}

/** @internal How many lanes this thread has open (for tests). */
export function _lanesOpen(): number {
  let n = 0;
  for (const state of lanes.values()) if (state.lane !== undefined && !state.lane.closed) n++;
  return n;
}

/** @internal How many of this thread's open lanes go through shared memory (for tests). */
export function _lanesInMemory(): number {
  let n = 0;
  for (const state of lanes.values()) if (state.lane !== undefined && !state.lane.closed && state.lane.inMemory) n++;
  return n;
}

/** One call through `lane`; an owner gone or a lane dropped fails it with EOFError, as the helper would. */
function callThrough(lane: Lane, ref: ProxyRef, op: string, args: unknown[]): unknown {
  const callId = nextCall;
  nextCall = nextCall >= 0x7ffffff0 ? 1 : nextCall + 1;
  let reply: Buffer;
  try {
    reply = lane.call(callId, ref.id, op, args, ref.maxFrame, ref.pid);
  } catch (err) {
    if (!(err instanceof LaneClosed)) throw err;
    throw new EOFError(`the process that owns this object (pid ${ref.pid}) has exited or closed the connection`, { cause: err });
  }
  const answered = reply.readUInt32LE(0);
  if (answered !== callId) {
    lane.close();
    throw new Error(`concur: a lane answered call ${answered} to call ${callId}`);
  }
  return valueOf(reply);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Calls `op` on the owner's object without waiting; it lands before this thread's later calls, and before `settle()` returns. */
export function sendRemote(ref: ProxyRef, op: string, args: unknown[] = []): void {
  outboxes.throwFailure(ref, helper);
  const h = liveHelper();
  sentAhead.pending = true;
  // Counted before it leaves, so a settle that follows at once waits for it.
  Atomics.add(h.window, INFLIGHT, 1);
  try {
    post(ref, TRACKED, op, args);
  } catch (err) {
    Atomics.sub(h.window, INFLIGHT, 1);
    throw err;
  }
}

/** @internal This thread's helper worker, if it started (for tests that make it fail). */
export function _helperWorker(): Worker | undefined {
  return helper?.worker;
}

/** True once this thread has used a proxy (so there may be puts or writes to settle). */
export function usesProxies(): boolean {
  return helper !== undefined;
}

/**
 * Puts `item` into the owner's queue without waiting for its answer (it goes into this
 * thread's outbox, blocking only while the outbox is full). Throws the failure of an
 * earlier such put into the same queue.
 */
export function enqueueSync(ref: ProxyRef, item: unknown): void {
  sentAhead.pending = true;
  outboxes.enqueueSync(ref, item);
}

/** `enqueueSync` that waits for room in the outbox with the event loop free. */
export function enqueue(ref: ProxyRef, item: unknown): Promise<void> {
  sentAhead.pending = true;
  return outboxes.enqueue(ref, item);
}

/**
 * Waits until every put and write this thread sent ahead has landed at its owner, then
 * throws the failure of one of them into `ref` (into any object when `ref` is
 * undefined), if any. False if `giveUpAt` (performance.now()) came first.
 */
export function settleSync(ref?: ProxyRef, giveUpAt = Infinity): boolean {
  return outboxes.settleSync(helper, ref, giveUpAt);
}

// A change to shared memory waits for what was sent ahead (see sync/publish.ts).
sentAhead.settle = () => {
  try {
    outboxes.settleSync(helper, undefined, Infinity, false);
  } catch {
    // the helper is gone: nothing more will land
  }
};

/** `settleSync` that never throws: for a task that failed already (its own error is the one to report). */
export function settleQuietly(): void {
  try {
    settleSync();
  } catch {
    // the task's own failure is reported instead
  }
}

/** `settleSync` with the event loop free. */
export function settle(ref?: ProxyRef, giveUpAt = Infinity): Promise<boolean> {
  return outboxes.settle(helper, ref, giveUpAt);
}
