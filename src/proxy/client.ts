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
 * thread exited, fails with an error that says which. A manager container's call has a
 * deadline of the caller's own (callRemoteSyncTimed), through a lane (lane-watch.ts) as
 * through the helper.
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
import { LaneBroken, LaneClosed, LaneTimedOut, LaneTooLong, type Lane } from './lane.js';
import { CallWatch } from './lane-watch.js';
import { closeLanes, laneTo, type OwnerOpens } from './thread-lanes.js';
/** @internal (for tests) */
export { _lanesInMemory, _lanesOpen } from './thread-lanes.js';
import { Outboxes, type HelperLink } from './outbox.js';
import {
  ACKS,
  ASYNC,
  callIdOf,
  decodeReply,
  encodeCall,
  HELPER_GONE,
  HELPER_READY,
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
  /** The deadlines of this thread's lane calls, which the helper watches. */
  readonly watch: CallWatch;
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
  const h: Helper = { worker, flag, window, syncPort: sync.port1, asyncPort: replies.port1, failedPort: failed.port1, watch: new CallWatch(window) };
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
    const lane = laneFor(ref);
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

/**
 * `callRemoteSync` with a deadline of the caller's own: past `timeout` ms (Infinity: none)
 * it returns `timedOut(ref, op, timeout)` (which throws, as a rule), whether the call went
 * through a lane or the helper. Nothing is given back: a late answer is dropped, and the
 * call may still have taken effect at the owner. Only for calls that do not wait for
 * another party there (a container's), so that any wait that long is a stall.
 */
export function callRemoteSyncTimed(ref: ProxyRef, op: string, args: unknown[], timeout: number, timedOut: (ref: ProxyRef, op: string, timeout: number) => unknown): unknown {
  if (timeout === Infinity) return callRemoteSync(ref, op, args);
  outboxes.throwFailure(ref, helper);
  const h = liveHelper();
  if (Atomics.load(h.window, HELPER_READY) === 0) whenStarted(h);
  let lane: Lane | undefined;
  try {
    lane = laneFor(ref, timeout);
  } catch (err) {
    if (err instanceof LaneTimedOut) return timedOut(ref, op, timeout);
    throw err;
  }
  if (lane !== undefined) return callThrough(lane, ref, op, args, timeout, timedOut);
  return callRemoteSync(ref, op, args, { giveUpAt: performance.now() + timeout, giveUp: () => timedOut(ref, op, timeout) });
}

/**
 * How long a timed call waits for this thread's helper to start before its deadline
 * starts anyway. A process's first call starts the helper, whose module takes from tens
 * of milliseconds to seconds to load (a loaded machine): that is no owner's stall.
 */
const HELPER_START_MS = 60_000;

function whenStarted(h: Helper): void {
  const until = performance.now() + HELPER_START_MS;
  while (Atomics.load(h.window, HELPER_READY) === 0 && performance.now() < until) {
    if (Atomics.load(h.window, HELPER_GONE) === 1) throw retire(h);
    Atomics.wait(h.window, HELPER_READY, 0, 100);
  }
}

// ---- lanes (lane.ts, thread-lanes.ts) -------------------------------------------

/**
 * This thread's lane to `ref`'s owner, if it has one or one opens now (see laneTo). A
 * lane opened for a call with `timeout` must open within it (from when its FIFOs exist).
 */
function laneFor(ref: ProxyRef, timeout?: number): Lane | undefined {
  const h = helper;
  return laneTo(ref, h === undefined || Atomics.load(h.window, INFLIGHT) > 0, h?.watch, timeout, openLane);
}

const laneOpenTimedOut = (): never => {
  throw new LaneTimedOut('the lane did not open in time');
};

/** Asks the owner to open a lane; its deadline starts once the FIFOs exist (making them spawns mkfifo). */
const openLane: OwnerOpens = (ref, timeout, request, reply, memory) =>
  callRemoteSync({ ...ref, id: LANE_OBJECT }, LANE_OP, [request, reply, memory], timeout === undefined ? undefined : { giveUpAt: performance.now() + timeout, giveUp: laneOpenTimedOut });

/**
 * One call through `lane`; an owner gone or a lane dropped fails it with EOFError, as
 * the helper would, and an owner that broke the protocol with an Error that says how;
 * past `timeout` ms (if given) it returns `timedOut(...)`.
 */
function callThrough(lane: Lane, ref: ProxyRef, op: string, args: unknown[], timeout = 0, timedOut?: (ref: ProxyRef, op: string, timeout: number) => unknown): unknown {
  const callId = nextCall;
  nextCall = nextCall >= 0x7ffffff0 ? 1 : nextCall + 1;
  let reply: Buffer;
  try {
    reply = lane.call(callId, ref.id, op, args, ref.maxFrame, ref.pid, timeout);
  } catch (err) {
    if (err instanceof LaneTimedOut) return timedOut!(ref, op, timeout);
    if (err instanceof LaneTooLong) return callRemoteSync(ref, op, args, { giveUpAt: performance.now() + timeout, giveUp: () => timedOut!(ref, op, timeout) });
    if (err instanceof LaneBroken) throw new Error(`concur: the process that owns this object (pid ${ref.pid}) sent ${err.message}, through a lane (closed now: later calls go through the helper thread)`, { cause: err });
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

/**
 * Waits until what this thread sent ahead (puts, writes) has landed or failed, until
 * `giveUpAt`; a failure stays to be thrown by the next call or at exit. False if time ran
 * out, or this thread's helper is gone.
 */
export async function landed(giveUpAt: number): Promise<boolean> {
  try {
    return await outboxes.settle(helper, undefined, giveUpAt, false);
  } catch {
    return false; // the helper is gone: nothing of it will land
  }
}
