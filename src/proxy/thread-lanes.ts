/**
 * A thread's lanes (lane.ts), one per owner on this machine: a main thread's synchronous
 * calls to an owner take its lane once they have made a few through the helper, so a
 * process that calls a few times pays no setup. A lane closed by a call's deadline
 * (lane-watch.ts) leaves its owner as it found it: another opens after as many calls.
 */
import { isMainThread } from 'node:worker_threads';
import { Lane, LaneTimedOut, lanesPossible, makeLane } from './lane.js';
import type { CallWatch } from './lane-watch.js';
import { isTcp, type ProxyRef } from './protocol.js';
import type { ViewRef } from '../sync/shm.js';

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

/** Closes every lane of this thread (its helper is gone: they belonged to its connections). */
export function closeLanes(): void {
  for (const state of lanes.values()) state.lane?.close();
  lanes.clear();
  lastRef = lastState = undefined;
}

/**
 * Asks `ref`'s owner, through the helper, to open a lane's FIFOs (and map its memory);
 * throws if it would not, or LaneTimedOut if it did not answer within `timeout` ms.
 */
export type OwnerOpens = (ref: ProxyRef, timeout: number | undefined, requestPath: string, replyPath: string, memory: ViewRef | undefined) => unknown;

/**
 * This thread's lane to `ref`'s owner, opened after a few calls, or undefined when the
 * call must go through the helper: lanes are not allowed here, the owner is on TCP or
 * would not open one, or `helperBusy` (no helper yet, or puts or writes in flight through
 * it, which land before this thread's later calls). A Promise call still in flight is not
 * waited for: its order against later calls was never promised (it may wait at the
 * owner, and its answer comes only when this thread's event loop runs). Throws
 * LaneTimedOut when `ownerOpens` does (a call's deadline passed while the lane opened).
 */
export function laneTo(ref: ProxyRef, helperBusy: boolean, watch: CallWatch | undefined, timeout: number | undefined, ownerOpens: OwnerOpens): Lane | undefined {
  if (!lanesAllowed || isTcp(ref.addr) || helperBusy || watch === undefined) return undefined;
  let state = ref === lastRef ? lastState : undefined;
  if (state === undefined) {
    const key = `${ref.pid}:${ref.addr}`;
    state = lanes.get(key);
    if (state === undefined) lanes.set(key, (state = { calls: 0, lane: undefined, refused: false }));
    lastRef = ref;
    lastState = state;
  }
  if (state.lane !== undefined && !state.lane.closed) return state.lane;
  if (state.lane?.timedOut === true) {
    state.lane = undefined;
    state.calls = 0;
  }
  if (state.refused || state.lane !== undefined || ++state.calls < LANE_AFTER_CALLS) return undefined;
  state.refused = true; // until it opens: a call made while it opens goes through the helper
  try {
    state.lane = makeLane((request, reply, memory) => ownerOpens(ref, timeout, request, reply, memory), watch);
    state.refused = false;
  } catch (err) {
    // A stalled owner: try again after as many calls (which go through the helper meanwhile).
    if (err instanceof LaneTimedOut) {
      state.refused = false;
      state.calls = 0;
      throw err;
    }
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
