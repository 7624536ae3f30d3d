/**
 * The proxy protocol, after the handshake. Every frame starts with a 4-byte call id
 * (little-endian) so a client routes a reply without decoding it; the rest is one
 * v8-serialized array. A call carries [objectId, op, args]; a reply [ok, value], where
 * a failed call's value is its serialized error.
 */
import { deserialize, serialize } from 'node:v8';
import { COMPACT, readCompactCall, readCompactReply } from './compact.js';
import { sendingData, withoutViews } from '../sync/views.js';
import { cloneReason, uncloneableArg } from '../transport/clone-error.js';

/** Where a shared object lives and how to reach it: carried by each of its proxies. */
export interface ProxyRef {
  /** Unix socket path of the owner's broker, or `tcp://host:port` for one that listens on TCP (a manager's). */
  readonly addr: string;
  /** The owner's authkey, hex. */
  readonly key: string;
  /** The owner's pid (for error messages, and to stop retrying once it is gone). */
  readonly pid: number;
  /** The object's id at its owner. */
  readonly id: number;
  /** The owner's frame limit (maxFrameBytes): a call larger than it fails before it is sent. */
  readonly maxFrame: number;
}

/** Whether `addr` is a TCP address (`tcp://host:port`): its owner may be on another machine, so no pid says whether it lives. */
export const isTcp = (addr: string): boolean => addr.startsWith('tcp://');

/** The host and port of a `tcp://host:port` address. */
export function tcpTarget(addr: string): { host: string; port: number } {
  const rest = addr.slice('tcp://'.length);
  const colon = rest.lastIndexOf(':');
  const host = rest.slice(0, colon);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(rest.slice(colon + 1)) };
}

/** A `tcp://host:port` address. */
export const tcpAddr = (host: string, port: number): string => `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;

/** A duration from the environment (tests shorten the heartbeat with it), else `fallback`. */
function envMs(name: string, fallback: number): number {
  const ms = Number(process.env[name]);
  return Number.isFinite(ms) && ms > 0 ? ms : fallback;
}

/**
 * Over TCP, each side hears from the other at least this often (a client pings its
 * owner; any frame counts), so a peer whose machine vanished without closing the
 * connection is noticed.
 */
export const HEARTBEAT_MS = envMs('CONCUR_PROXY_HEARTBEAT_MS', 2_000);
/** Over TCP, a connection silent this long is taken for dead and closed. */
export const SILENCE_LIMIT_MS = envMs('CONCUR_PROXY_SILENCE_MS', 15_000);
/**
 * Whether a TCP peer has been silent past SILENCE_LIMIT_MS. Time this side's own event
 * loop was held up (a flood of frames on another connection, a CPU it did not get) is
 * not the peer's silence: its pings may wait unread in the socket meanwhile. A flooding
 * client once had a manager close its other clients' connections at load 30.
 */
export class SilenceWatch {
  readonly #every: number;
  readonly #now: () => number;
  #heard: number;
  #checked: number;

  /** For a check every `every` ms (`now`: a clock, for tests). */
  constructor(every: number, now: () => number = Date.now) {
    this.#every = every;
    this.#now = now;
    this.#heard = this.#checked = now();
  }

  /** Something came from the peer. */
  heard(): void {
    this.#heard = this.#now();
  }

  /** Called every `every` ms: true once the peer has been silent past the limit. */
  silent(): boolean {
    const now = this.#now();
    const late = now - this.#checked - this.#every;
    // A check this late means the loop was held up: that time does not count.
    if (late > LATE_MS) this.#heard += late;
    this.#checked = now;
    return now - this.#heard > SILENCE_LIMIT_MS;
  }
}
/** Lateness of a check past which the loop, not the peer, is taken to have stalled. */
const LATE_MS = 250;

/** The call id of a ping (its object id is 0): answered by the broker itself. */
export const PING_CALL_ID = 0xffffffff;

/** The object id of a call to the broker itself (a ping's, a lane's). */
export const LANE_OBJECT = 0;
/** The operation that opens a lane: its arguments are the paths of the caller's request and reply FIFOs. */
export const LANE_OP = 'openLane';

/** Most bytes a handshake frame may have (CPython caps its handshake messages at 256 too). */
export const HANDSHAKE_MAX_BYTES = 256;

function withCallId(callId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32LE(callId, 0);
  body.copy(out, 4);
  return out;
}

/** The call id a call or reply frame starts with. */
export const callIdOf = (frame: Uint8Array): number => Buffer.from(frame.buffer, frame.byteOffset, 4).readUInt32LE(0);

/** A call's frame. */
export function encodeCall(callId: number, objectId: number, op: string, args: unknown[]): Buffer {
  try {
    return withCallId(callId, sendingData([objectId, op, args], serialize));
  } catch (err) {
    const which = uncloneableArg(args, (i) => `argument ${i}`, (v) => serialize(withoutViews(v))); // a view is sent as its data
    if (which === undefined) throw err;
    throw new TypeError(`${which} of ${op} cannot be sent across processes: ${cloneReason(err)}`, { cause: err });
  }
}

/** A call frame's contents (in v8's form, or the compact one of compact.ts). */
export const decodeCall = (frame: Buffer): [objectId: number, op: string, args: unknown[]] =>
  frame[4] === COMPACT ? readCompactCall(frame, 4, frame.length) : (deserialize(frame.subarray(4)) as [number, string, unknown[]]);

// Most replies say only "done" (a release, a put): they go as the call id alone.
const DONE = Buffer.alloc(0);

/** A reply's frame. */
export const encodeReply = (callId: number, ok: 0 | 1, value: unknown): Buffer =>
  withCallId(callId, ok === 1 && value === undefined ? DONE : sendingData([ok, value], serialize));

/** A reply frame's contents (in v8's form, or the compact one of compact.ts). */
export function decodeReply(frame: Uint8Array): [ok: 0 | 1, value: unknown] {
  if (frame.length === 4) return [1, undefined];
  if (frame[4] === COMPACT) return readCompactReply(Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), 4, frame.length);
  return deserialize(frame.subarray(4)) as [0 | 1, unknown];
}

/** How a caller waits for its reply: not at all, with a Promise, or blocking its thread. */
export const NO_REPLY = 0;
/** The reply settles a Promise. */
export const ASYNC = 1;
/** The reply wakes a thread blocked in Atomics.wait. */
export const SYNC = 2;

/** A batch of puts the helper shipped from an outbox: its reply only counts (and reports a failure). */
export const PIPELINED = 3;
/** A write (`value = x`) nobody waits for, counted until it has landed, as a batch is. */
export const TRACKED = 4;

// Slots of the Int32Array a thread shares with its helper about shipped batches.
/** Batches shipped and not yet answered. */
export const INFLIGHT = 0;
/** Failed batches reported so far (their errors wait on a port). */
export const FAILURES = 1;
/** Bumped on every answer to a batch: a thread settling its puts waits on it. */
export const ACKS = 2;
/** Set (and both counters woken) when the helper thread exits: nothing more will be answered. */
export const HELPER_GONE = 3;
/** The lane call under way and where it stands (lane-watch.ts): its sequence number << 2 | its state. */
export const LANE_CALL = 4;
/** That call's timeout in ms, and the fd of the reply FIFO it blocks on. */
export const LANE_TIMEOUT = 5;
export const LANE_FD = 6;
/** 1 while the helper looks at LANE_CALL now and then; 0 while it sleeps until woken. */
export const LANE_WATCHED = 7;
/** Set once the helper's module has loaded and it takes requests (a timed call's deadline starts no earlier). */
export const HELPER_READY = 8;
/** Slots of that Int32Array. */
export const WINDOW_SLOTS = 9;

/** Tells a helper about a thread's outbox for one queue of another process. */
export interface OutboxRegistration {
  outbox: object;
  addr: string;
  key: string;
  pid: number;
  objectId: number;
  /** Bytes of records per batch (below the owner's frame limit). */
  batchBytes: number;
  maxFrame: number;
}

/**
 * Tells a helper that its thread stopped waiting for a call (its own deadline passed,
 * or its owner is gone). The helper alone decides: if the reply already went to the
 * thread, nothing changes; else the thread is told `{ abandoned: callId }`, and a
 * reply that comes later is undone by calling `undo` with the value it carried (a
 * permit or an item the owner granted late goes back).
 */
export interface Abandon {
  abandon: number;
  addr: string;
  /** The operation that gives back a late reply's value, and whether only a `true` needs it (an acquire's). */
  undo: { op: string; onlyIfTrue: boolean } | undefined;
}

/** What a helper answers a thread that abandoned a call still in flight. */
export interface Abandoned {
  abandoned: number;
}

/** What a thread asks its helper to send. */
export type HelperRequest = [addr: string, key: string, pid: number, callId: number, mode: number, frame: Uint8Array, objectId: number, maxFrame: number];
