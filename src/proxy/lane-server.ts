/**
 * The owner's end of a lane (lane.ts has the caller's): a pair of FIFOs the caller
 * made, through which the calls of one of its threads come and their answers go, in
 * the frames of the proxy protocol. Both ends are libuv pipes on this thread's event
 * loop, so a lane's call is served as a socket's is, between them.
 *
 * The paths come from an authenticated caller over its socket. They are opened only if
 * each is a FIFO this user owns (lstat first, then O_NOFOLLOW and fstat on what was
 * opened), and without blocking: the caller holds its own ends open already.
 *
 * A lane with shared memory (lane-memory.ts) is polled by this thread for a moment
 * after each of its answers (pump() below), so that a caller making call after call
 * finds its next one taken without waking anybody.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { isAbsolute } from 'node:path';
import { isViewRef, native, openView } from '../sync/shm.js';
import { cutShort, tailSeam } from './lane-seam.js';
import { AREA_BYTES, BY_FIFO, CLIENT_IDLE, laneMemory, REP_LEN, REP_SEQ, REQ_LEN, REQ_SEQ, RING, SERVER_AWAKE, type LaneMemory } from './lane-memory.js';

/** The owner's ends of a lane: calls come in on `requests`, answers go out on `replies`. */
export interface LaneEnds {
  readonly requests: Socket;
  /** Delivers every call frame, in order, to `handler` (frames before it wait for it). */
  onFrame(handler: (frame: Buffer) => void): void;
  readonly replies: Socket;
  /** Whether calls come through shared memory (the caller's, mapped here) too. */
  readonly inMemory: boolean;
  /**
   * Writes one whole frame (its length first) to the caller; `onLost` runs if it cannot
   * be (the caller is gone). While nothing waits in `replies`, the frame goes straight
   * to the FIFO with one write: an answer is small and the caller reads each one before
   * its next call, so the pipe has room and the stream's machinery is not needed.
   */
  send(framed: Buffer, onLost?: () => void): void;
}

function openFifo(path: unknown, flags: number): number {
  if (typeof path !== 'string' || !isAbsolute(path)) throw new TypeError('a lane path must be an absolute path');
  const uid = process.getuid?.();
  const before = lstatSync(path);
  if (!before.isFIFO() || (uid !== undefined && before.uid !== uid)) throw new Error(`${path} is not a FIFO of this user`);
  const fd = openSync(path, flags | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const opened = fstatSync(fd);
    if (!opened.isFIFO() || opened.ino !== before.ino || opened.dev !== before.dev) throw new Error(`${path} changed while it was opened`);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Opens the owner's ends of the lane whose FIFOs are at `requestPath` and `replyPath`.
 * The reply end is write-only, so once the caller's process is gone an answer meets
 * EPIPE (and what it carried is given back, as over a socket).
 */
export function openLaneEnds(requestPath: unknown, replyPath: unknown, maxFrameBytes: number, memoryRef?: unknown): LaneEnds {
  const rfd = openFifo(requestPath, constants.O_RDONLY);
  let wfd: number;
  try {
    wfd = openFifo(replyPath, constants.O_WRONLY);
  } catch (err) {
    closeSync(rfd);
    throw err;
  }
  // One FIFO for both would feed each answer back in as a call, for ever.
  if (fstatSync(rfd).ino === fstatSync(wfd).ino) {
    closeSync(rfd);
    closeSync(wfd);
    throw new Error('a lane needs two FIFOs, not one');
  }
  const frames = new Frames(maxFrameBytes, () => close());
  const polled = memoryRef === undefined ? undefined : mapMemory(memoryRef, frames, () => close());
  // Read straight into one buffer (no stream machinery per read): a call is a few dozen bytes.
  const requests = new Socket({
    fd: rfd,
    readable: true,
    writable: false,
    onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n: number, buffer: Uint8Array) => void frames.push(buffer as Buffer, n) },
  } as ConstructorParameters<typeof Socket>[0]);
  const replies = new Socket({ fd: wfd, readable: false, writable: true });
  const close = (): void => {
    if (polled !== undefined) lanesPolled.delete(polled);
    requests.destroy();
    replies.destroy();
  };
  // The caller closed its end (or died): the lane is over; its connection says the rest.
  requests.on('end', close);
  requests.on('close', close);
  requests.on('error', close);
  replies.on('error', close);
  replies.on('close', close);
  const sendByFifo = (framed: Buffer, onLost?: () => void): void => {
    if (tailSeam !== undefined && replies.writableLength === 0 && !replies.pending) framed = cutShort(wfd, framed, maxFrameBytes);
    if (replies.writableLength === 0 && !replies.pending) {
      try {
        const n = writeSync(wfd, framed);
        if (n === framed.length) return;
        framed = framed.subarray(n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
          // EPIPE: the caller's process is gone (its connection's close follows).
          close();
          return void onLost?.();
        }
      }
    }
    // The rest (a large answer, a full pipe) goes through the stream, in order.
    replies.write(framed, onLost === undefined ? undefined : (err) => err && onLost());
  };
  /** Rings waiting in `replies`' buffer: a caller reads each one before its call ends, so more than a few is one that never reads. */
  let ringsQueued = 0;
  const ring = (): void => {
    if (replies.writableLength === 0 && !replies.pending) {
      try {
        writeSync(wfd, RING); // 4 bytes: all or EAGAIN
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return close();
      }
    }
    // Else they would pile up in this process, one object each, until backpressure at 4 MiB.
    if (++ringsQueued > RINGS_QUEUED_MAX) return close();
    replies.write(RING, () => ringsQueued--);
  };
  const send = (framed: Buffer, onLost?: () => void): void => {
    if (replies.destroyed) return void onLost?.();
    if (polled === undefined) return sendByFifo(framed, onLost);
    // An answer that gives back what it carried when it cannot be written goes by FIFO,
    // where a caller that is gone makes the write fail (memory would take it silently).
    const w = polled.memory.words;
    const n = framed.length - 4;
    const byFifo = n > AREA_BYTES || onLost !== undefined;
    if (byFifo) w[REP_LEN] = BY_FIFO;
    else {
      polled.memory.reply.set(framed.subarray(4));
      w[REP_LEN] = n;
    }
    polled.pending = false;
    Atomics.store(w, REP_SEQ, (polled.answered = (polled.answered + 1) | 0));
    if (raceSeam) stall(polled.answered);
    if (Atomics.load(w, CLIENT_IDLE) === 1 && Atomics.exchange(w, CLIENT_IDLE, 0) === 1) ring();
    if (byFifo) sendByFifo(framed, onLost);
    keepPolling();
  };
  return { requests, replies, send, inMemory: polled !== undefined, onFrame: (handler) => frames.onFrame(handler) };
}

// ---- lanes with shared memory -----------------------------------------------------

/** The owner's state of one lane with memory. */
interface PolledLane {
  readonly memory: LaneMemory;
  /** The last call taken (REQ_SEQ's value) and the answers written. */
  taken: number;
  answered: number;
  /** A call was taken and its answer is not written yet. */
  pending: boolean;
  /** Copies the call in the memory out to the lane's handler, if there is a new one. */
  take(): boolean;
}

/** Rings a lane's reply FIFO may have waiting in this process (a caller that reads its rings has one or two). */
const RINGS_QUEUED_MAX = 64;
/** How long this thread polls after the last call taken or answer written, before it sleeps (longer than a young-generation GC of a caller, so one does not cost a wake-up). */
const POLL_MS = 0.1;
/** Longest stretch the poll holds the event loop; then it lets it run once and goes on. */
const SLICE_MS = 1;

/**
 * A test seam (CONCUR_TEST_LANE_RACE=1): every 16th answer stalls between publishing
 * itself and looking whether the caller sleeps, longer than a caller polls, as a
 * preempted thread would; the caller meanwhile makes its next call and goes to sleep.
 */
const raceSeam = process.env.CONCUR_TEST_LANE_RACE === '1';
function stall(n: number): void {
  if (n % 16 !== 0) return;
  const until = performance.now() + 0.3;
  while (performance.now() < until);
}

const lanesPolled = new Set<PolledLane>();
let pumping = false;
let scheduled = false;
let lastWork = 0;

/**
 * Maps the caller's memory for this lane (`frames` gets its calls, as the FIFO's), or
 * returns undefined when it cannot be mapped: the lane then works by FIFO alone, and
 * the caller knows, as the open's answer says so.
 */
function mapMemory(ref: unknown, frames: Frames, refuse: () => void): PolledLane | undefined {
  if (native === undefined || !isViewRef(ref)) return undefined;
  let memory: LaneMemory;
  try {
    const view = openView(ref);
    if (!(view instanceof Uint8Array)) return undefined;
    memory = laneMemory(view);
  } catch {
    return undefined;
  }
  const lane: PolledLane = {
    memory,
    taken: 0,
    answered: 0,
    pending: false,
    take() {
      const w = memory.words;
      const seq = Atomics.load(w, REQ_SEQ);
      if (seq === lane.taken || lane.pending) return false;
      lane.taken = seq;
      const n = w[REQ_LEN]!;
      if (n < 4 || n > AREA_BYTES) {
        refuse(); // not a call this side wrote: the caller does not speak this protocol
        return false;
      }
      lane.pending = true;
      frames.deliver(Buffer.from(memory.request.subarray(0, n)));
      return true;
    },
  };
  // A ring (an empty frame on the FIFO): look at the memory, and poll on for a while.
  frames.onRing = () => {
    if (lane.take()) keepPolling();
  };
  lanesPolled.add(lane);
  return lane;
}

/** Keeps this thread polling the lanes for POLL_MS from now. */
function keepPolling(): void {
  lastWork = performance.now();
  if (pumping || scheduled) return;
  scheduled = true;
  setImmediate(pump);
}

/**
 * Polls every lane's memory for calls until none came for POLL_MS; then says it sleeps
 * (SERVER_AWAKE = 0) and looks once more. A call whose answer is not ready at once (it
 * waits for a lock, say) ends the slice, so the event loop can produce it.
 */
function pump(): void {
  scheduled = false;
  pumping = true;
  try {
    const start = performance.now();
    for (const lane of lanesPolled) Atomics.store(lane.memory.words, SERVER_AWAKE, 1);
    for (;;) {
      let waiting = false;
      for (const lane of lanesPolled) {
        if (lane.take()) lastWork = performance.now();
        if (lane.pending) waiting = true;
      }
      const now = performance.now();
      if (now - lastWork > POLL_MS) break;
      if (waiting || now - start > SLICE_MS) {
        scheduled = true;
        setImmediate(pump); // still awake: callers need not ring
        return;
      }
    }
    for (const lane of lanesPolled) Atomics.store(lane.memory.words, SERVER_AWAKE, 0);
    // A call found now must start a new poll: keepPolling() while pumping would only note the time.
    pumping = false;
    for (const lane of lanesPolled) if (lane.take()) keepPolling();
  } finally {
    pumping = false;
  }
}

/** Bytes read from a request FIFO at a time. */
const READ_BUFFER = 64 * 1024;

/**
 * @internal Length-prefixed frames (as frames.ts's) out of the chunks read into a reused buffer:
 * each frame is copied out. A header announcing more than `maxFrameBytes` calls `refuse`.
 */
export class Frames {
  #handler: ((frame: Buffer) => void) | undefined;
  #early: Buffer[] = [];
  /** A frame (or its header) that came in pieces, with how much of it is here. */
  #partial: Buffer | undefined;
  #have = 0;
  #head = Buffer.alloc(4);
  #headHave = 0;

  /** What a ring means (a lane with memory sets it); without it, an empty frame is nothing. */
  onRing: (() => void) | undefined;

  constructor(
    readonly maxFrameBytes: number,
    readonly refuse: () => void,
  ) {}

  onFrame(handler: (frame: Buffer) => void): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const frame of early) handler(frame);
  }

  push(chunk: Buffer, n: number): void {
    let at = 0;
    while (at < n) {
      if (this.#partial !== undefined) {
        const take = Math.min(n - at, this.#partial.length - this.#have);
        chunk.copy(this.#partial, this.#have, at, at + take);
        this.#have += take;
        at += take;
        if (this.#have < this.#partial.length) return;
        const frame = this.#partial;
        this.#partial = undefined;
        this.deliver(frame);
        continue;
      }
      let length: number;
      if (this.#headHave > 0 || n - at < 4) {
        const take = Math.min(n - at, 4 - this.#headHave);
        chunk.copy(this.#head, this.#headHave, at, at + take);
        this.#headHave += take;
        at += take;
        if (this.#headHave < 4) return;
        this.#headHave = 0;
        length = this.#head.readUInt32LE(0);
      } else {
        length = chunk.readUInt32LE(at);
        at += 4;
      }
      if (length > this.maxFrameBytes) return this.refuse();
      if (n - at >= length) {
        this.deliver(Buffer.from(chunk.subarray(at, at + length)));
        at += length;
      } else {
        this.#partial = Buffer.allocUnsafe(length);
        this.#have = 0;
      }
    }
  }

  /** Hands a frame to the handler (or keeps it until there is one). An empty frame is a ring. */
  deliver(frame: Buffer): void {
    if (frame.length === 0) return this.onRing?.();
    if (this.#handler !== undefined) this.#handler(frame);
    // Before the broker listens (it does at once), a frame waits: at most what one read held.
    else if (this.#early.length < 1024) this.#early.push(frame);
    else this.refuse();
  }
}
