/**
 * A lane: a calling thread's own way to an owner on the same machine, with no helper
 * thread between them. It is a pair of FIFOs (named pipes): the thread writes a call's
 * frame into one and blocks in a read of the other until the answer is there.
 *
 *   thread ── writeSync(request FIFO) ──► owner's broker (a libuv pipe on its loop)
 *   thread ◄── readSync(reply FIFO), blocking ── owner writes the answer
 *          ◄── or, past the call's deadline, the thread's helper writes TIMED_OUT_HEADER
 *
 * The bytes of the answer are the wake-up: there is no separate doorbell to lose, no
 * state word to keep in step, and a thread that blocks finds either the answer or
 * nothing yet, never a stale signal. A blocking read also ends when every writer of the
 * reply FIFO is gone: the owner's is its only one (this side's own writer, held while
 * the lane opens, is closed before the first call), so an owner that exits or drops
 * the lane ends the read with EOF at once, and a call to an owner that is gone fails
 * on EPIPE. A request FIFO's reader is only the owner for the same reason.
 *
 * Where both sides can map shared memory, a lane also has a region (lane-memory.ts):
 * calls and answers go through it, each side polls it for a moment before it sleeps,
 * and the FIFOs carry only the rings that wake a sleeper and frames too large for it.
 *
 * A call with a deadline (a manager container's callTimeout) is still one blocking read:
 * the thread's helper watches it and, past the deadline, reopens the reply FIFO through
 * /proc/self/fd and writes a frame header no answer has (lane-watch.ts). The fast path
 * gains no system call and no clock read: a call answered while its caller polls the
 * memory gains nothing at all, one that blocks a few atomic stores and a compare-and-swap
 * (and an answer too long for the memory, read from the FIFO, an atomic load per read).
 * The same frame ends the sleep of a lane in memory (it sleeps reading rings from that
 * FIFO), and it needs no native part, which a poll(2) with a timeout would (with a
 * fallback through the helper without it, where lanes go by FIFO alone). A lane whose call timed out is closed: its answer may
 * come yet. A call with a deadline too long for the request FIFO to take whole goes
 * through the helper instead (its write could block on a stalled owner, and no sentinel
 * ends a write). An answer over 4 KiB comes in pieces: the deadline covers every read
 * of it, so an owner stopped after its header (or one whose header claims more than
 * follows) ends the call in time too, and what is allocated for it grows with what came.
 *
 * A lane belongs to the connection its thread's helper opened to the owner: the owner
 * serves its calls for the same caller (the same locks held, the same references
 * counted), and drops it when that connection closes. The FIFOs are made in a fresh
 * directory only this user can enter and unlinked as soon as both sides hold them
 * open, so nothing is left on disk however either side ends.
 */
import { childProcess } from '../util/lazy-builtin.js';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocShared, native, viewRef, type ViewRef } from '../sync/shm.js';
import { ownedPrefix, sweepDeadOwners } from '../util/leftovers.js';
import { writeCompactCall } from './compact.js';
import { AREA_BYTES, BY_FIFO, CLIENT_IDLE, LANE_BYTES, laneMemory, REP_LEN, REP_SEQ, REQ_LEN, REQ_SEQ, RING, SERVER_AWAKE, type LaneMemory } from './lane-memory.js';
import { CallWatch, MAX_WATCHED_MS, TIMED_OUT_HEADER } from './lane-watch.js';
import { encodeCall } from './protocol.js';

const DIR_PREFIX = 'concur-lane-';
/** Bytes of the buffer an answer is read into; a larger answer gets one of its own. */
const READ_BUFFER = 64 * 1024;
/**
 * How long a caller polls the lane's memory for its answer before it sleeps: an owner
 * that is polling too answers within a few microseconds, and waking a sleeping process
 * costs tens of them on an idle machine.
 */
const SPIN_MS = 0.05;
/** The least it polls, however often polling failed of late. */
const MIN_SPIN_MS = 0.002;
/** Bytes a pipe writes whole (PIPE_BUF): a sentinel never lands inside an answer this short. */
const PIPE_ATOMIC = 4096;
/**
 * Most bytes of a call with a deadline: an empty request FIFO takes them (it holds 64 KiB)
 * without the owner reading, so a stalled owner cannot block the write, which no sentinel ends.
 */
const TIMED_WRITE_MAX = 60 * 1024;
/** Whether lanes may use shared memory (CONCUR_LANE_MEMORY=0: FIFOs only, to compare). */
const memoryAllowed = native !== undefined && process.env.CONCUR_LANE_MEMORY !== '0';

/** The lane is closed: its owner dropped it, or is gone. */
export class LaneClosed extends Error {}

/** A call's deadline passed before its answer came (the lane is closed: the answer may come yet). */
export class LaneTimedOut extends Error {}

/** A call with a deadline too long to write without the owner reading (nothing was sent; the lane is as it was). */
export class LaneTooLong extends Error {}

/** The owner wrote what no answer is (a header over its own frame limit): the lane is closed. */
export class LaneBroken extends LaneClosed {}

/** A thread's lane to one owner (see above). */
export class Lane {
  readonly #request: number;
  readonly #reply: number;
  #out = Buffer.allocUnsafe(256);
  #in = Buffer.allocUnsafe(READ_BUFFER);
  #closed = false;
  /** The owner's frame limit, given with the call under way: no answer is longer. */
  #limit = 0;
  readonly #memory: LaneMemory | undefined;
  /** Calls put in the memory, and answers taken (each as its word counts them, wrapping). */
  #sent = 0;
  #answered = 0;
  /** How long this lane polls now (between MIN_SPIN_MS and SPIN_MS). */
  #spin = SPIN_MS;
  /** The deadlines of this thread's calls (lane-watch.ts). */
  readonly #watch: CallWatch;
  /** The call under way was answered after the helper took it for timed out: the lane closes after it. */
  #late = false;
  #timedOut = false;
  /** The call's timeout in whole ms (0: none), armed only once it is about to block. */
  #timeout = 0;

  constructor(request: number, reply: number, watch: CallWatch, memory?: LaneMemory) {
    this.#request = request;
    this.#reply = reply;
    this.#watch = watch;
    this.#memory = memory;
  }

  /** Whether calls go through shared memory (else through the FIFOs). */
  get inMemory(): boolean {
    return this.#memory !== undefined;
  }

  /** Whether the lane was closed (by close(), or because it failed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether it closed because a call's deadline passed (its owner may be fine). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /**
   * Sends one call and blocks until its answer is read; returns that answer's frame
   * (its call id, then its body; valid until the next call). The call goes in the
   * compact form (compact.ts) when it has one, else in v8's. Throws a RangeError for a
   * call over `maxFrame` bytes (the limit of the owner, process `pid`), LaneClosed when the owner is gone or dropped the
   * lane, and LaneTimedOut when `timeout` ms (none when 0 or Infinity) passed first (the lane is closed then);
   * LaneTooLong, before anything is sent, for a call with a timeout over TIMED_WRITE_MAX bytes.
   * An answer that comes as the deadline passes is returned; the lane closes after it.
   */
  call(callId: number, objectId: number, op: string, args: unknown[], maxFrame: number, pid: number, timeout = 0): Buffer {
    if (this.#closed) throw new LaneClosed('the lane is closed');
    let body = writeCompactCall(this.#room, 8, objectId, op, args);
    if (body < 0) {
      const frame = encodeCall(callId, objectId, op, args);
      body = frame.length - 4;
      this.#room(4 + frame.length).set(frame, 4);
    }
    const size = 8 + body;
    if (size - 4 > maxFrame) {
      throw new RangeError(`a call of ${size - 4} bytes through a proxy (${op}) is over the frame limit of ${maxFrame} bytes (maxFrameBytes of the owner, pid ${pid})`);
    }
    this.#limit = maxFrame;
    this.#timeout = timeout > 0 && timeout <= MAX_WATCHED_MS ? Math.ceil(timeout) : 0;
    if (this.#timeout !== 0 && size > TIMED_WRITE_MAX) throw new LaneTooLong(`a call of ${size} bytes goes through the helper`);
    const out = this.#out;
    out.writeUInt32LE(size - 4, 0);
    out.writeUInt32LE(callId, 4);
    try {
      let frame: Buffer;
      if (this.#memory !== undefined) frame = this.#callInMemory(this.#memory, out, size);
      else {
        this.#write(out, size);
        this.#arm();
        frame = this.#readFrame();
      }
      if (this.#late) this.#closeLate();
      return frame;
    } catch (err) {
      this.#watch.disarm();
      this.#closeLate();
      if (err instanceof LaneTimedOut) this.#timedOut = true;
      if (err instanceof LaneClosed || err instanceof LaneTimedOut) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new LaneClosed(code === 'EPIPE' ? 'the owner closed the lane' : `the lane failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * The call is about to block in a read: the helper watches it from now (if it does not
   * yet). Not before: a call in memory answered while its caller polls costs the watch
   * nothing, and the deadline starts microseconds late at most.
   */
  #arm(): void {
    if (this.#timeout !== 0 && !this.#watch.armed) this.#watch.arm(this.#reply, this.#timeout);
  }

  /**
   * An answer is here (its header, or its publication in the memory): true if it came
   * in time, false if the helper took the call for timed out first (its sentinel may
   * follow, so the lane closes after this call).
   */
  #answerSeen(): boolean {
    if (this.#watch.disarm()) return true;
    this.#late = true;
    return false;
  }

  /** Closes the lane once the helper is done with its reply fd (a sentinel it sent, or may send). */
  #closeLate(): void {
    if (this.#late) this.#timedOut = true;
    this.#late = false;
    this.#watch.waitSent();
    this.close();
  }

  #write(frame: Buffer, size: number): void {
    for (let sent = 0; sent < size; ) sent += writeSync(this.#request, frame, sent, size - sent);
  }

  /** A call through the memory (a large one through the request FIFO), and its answer. */
  #callInMemory(m: LaneMemory, out: Buffer, size: number): Buffer {
    const w = m.words;
    if (size - 4 <= AREA_BYTES) {
      m.request.set(out.subarray(4, size));
      w[REQ_LEN] = size - 4; // published by the store below
      Atomics.store(w, REQ_SEQ, (this.#sent = (this.#sent + 1) | 0));
      if (Atomics.load(w, SERVER_AWAKE) === 0) this.#write(RING, 4);
    } else {
      this.#write(out, size);
    }
    const expected = (this.#answered = (this.#answered + 1) | 0);
    if (Atomics.load(w, REP_SEQ) !== expected) {
      const until = performance.now() + this.#spin;
      while (Atomics.load(w, REP_SEQ) !== expected && performance.now() < until);
      // Polling that keeps failing means the owner waits for a CPU (more busy processes
      // than cores, say): this side polls less and leaves it the CPU; success earns it back.
      if (Atomics.load(w, REP_SEQ) === expected) this.#spin = Math.min(SPIN_MS, this.#spin * 2);
      else {
        this.#spin = Math.max(MIN_SPIN_MS, this.#spin / 2);
        this.#sleep(w, expected);
      }
    }
    const n = Atomics.load(w, REP_LEN);
    if (n === BY_FIFO) {
      // Said here, the answer is yet to come whole through the FIFO, where an owner may
      // stop in the middle of it: the deadline covers the read (#readFrame says when it is over).
      if (this.#watch.fired()) throw new LaneTimedOut('the answer came as the deadline passed, too long to tell from a sentinel');
      this.#arm();
      const frame = this.#readFrame(true);
      if (frame.length === 0) throw new LaneClosed('the owner rang out of turn');
      return frame;
    }
    this.#answerSeen();
    if (n < 4 || n > AREA_BYTES) throw new LaneClosed(`the owner wrote an answer of ${n} bytes into the lane`);
    this.#in.set(m.reply.subarray(0, n));
    return this.#in.subarray(0, n);
  }

  /**
   * Blocks reading rings from the reply FIFO until answer `expected` is in the memory.
   * Each time this side says it sleeps (CLIENT_IDLE from 0 to 1) the owner may take
   * the word back and ring once, and only then; that ring may come for an earlier
   * answer, late (the owner was preempted between publishing it and looking), so a
   * ring proves nothing: the word is set again before each read, and every ring owed
   * is read before the call ends, one frame at a time, so no later call finds one.
   */
  #sleep(w: Int32Array, expected: number): void {
    let owed = 0;
    let read = 0;
    this.#arm();
    try {
      for (;;) {
        if (Atomics.exchange(w, CLIENT_IDLE, 1) === 0) owed++;
        if (Atomics.load(w, REP_SEQ) === expected) break;
        this.#readRing();
        read++;
      }
      // The last time it said so was not taken: no ring for it.
      if (Atomics.exchange(w, CLIENT_IDLE, 0) === 1) owed--;
      for (; read < owed; read++) this.#readRing();
    } catch (err) {
      // A sentinel, and the answer beside it: the answer counts (the lane closes after it).
      if (!(err instanceof LaneTimedOut) || Atomics.load(w, REP_SEQ) !== expected) throw err;
    }
  }

  #readRing(): void {
    if (this.#readFrame(true).length !== 0) throw new LaneClosed('the owner answered out of turn');
  }

  /** This lane's output buffer, grown to at least `size` bytes (what it held is kept). */
  readonly #room = (size: number): Buffer => {
    if (this.#out.length < size) {
      const bigger = Buffer.allocUnsafe(Math.max(size, 2 * this.#out.length));
      this.#out.copy(bigger);
      this.#out = bigger;
    }
    return this.#out;
  };

  /**
   * Reads one frame from the reply FIFO. Without memory only one answer is ever in it,
   * so a read may take as much as is there; with memory a ring may precede an answer,
   * and `exact` reads take no byte past the frame.
   */
  #readFrame(exact = false): Buffer {
    let buffer = this.#in;
    let got = 0;
    while (got < 4) got += this.#read(buffer, got, exact ? 4 - got : buffer.length - got);
    const n = buffer.readUInt32LE(0);
    // Only the helper writes it, and only once it took the call for timed out: from the owner it is a lie (below).
    if (n === TIMED_OUT_HEADER && this.#watch.fired()) throw new LaneTimedOut('the call timed out');
    // An answer is bounded by the owner's own frame limit, as on its socket (frames.ts):
    // a header that claims more is a lie, refused before anything is allocated or awaited.
    if (n > this.#limit) throw new LaneBroken(`an answer of ${n} bytes, over its frame limit of ${this.#limit} bytes`);
    const size = 4 + n;
    if (size <= PIPE_ATOMIC) {
      // A ring (n = 0) is no answer. An answer this short came whole, with one atomic
      // write: it is taken even if the deadline passed as it came (no sentinel is inside).
      if (n !== 0) this.#answerSeen();
      while (got < size) got += this.#read(buffer, got, size - got);
      return buffer.subarray(4, size);
    }
    // A longer one comes in pieces, and an owner stopped in the middle (or lying about
    // the length) may never send the rest: the call stays watched until its last byte. A
    // sentinel wakes a read the pipe left waiting, and a full pipe, where the helper
    // cannot write one, wakes it anyway: either way the word says so before the next
    // read. The buffer grows with what came, never at once to what the header claims.
    while (got < size) {
      if (this.#watch.fired()) throw new LaneTimedOut('the answer did not come whole in time');
      if (got === buffer.length) {
        const bigger = Buffer.allocUnsafe(Math.min(size, 2 * buffer.length));
        buffer.copy(bigger, 0, 0, got);
        buffer = bigger;
      }
      got += this.#read(buffer, got, Math.min(size, buffer.length) - got);
    }
    // The helper's sentinel may have gone into the pipe before the last read: some of these bytes may be its.
    if (!this.#answerSeen()) throw new LaneTimedOut('the answer came as the deadline passed, too long to tell from a sentinel');
    // Only one answer is ever outstanding: nothing can follow it before the next call.
    return buffer.subarray(4, size);
  }

  #read(buffer: Buffer, offset: number, length: number): number {
    const n = readSync(this.#reply, buffer, offset, length, null);
    if (n === 0) throw new LaneClosed('the owner closed the lane');
    return n;
  }

  /** Closes this side's ends; the owner sees the request FIFO end and drops the lane. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of [this.#request, this.#reply]) {
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
    }
  }
}

/** Whether lanes can work here: Linux (where opening a FIFO read-write never waits) with mkfifo. */
export const lanesPossible = process.platform === 'linux';

/**
 * Makes a lane: its FIFOs, this side's ends, and the owner's (`ownerOpens` asks the
 * owner, over its socket, to open the paths it is given, and throws if it would not).
 * The FIFOs are unlinked before this returns, whatever happens.
 */
export function makeLane(ownerOpens: (requestPath: string, replyPath: string, memory: ViewRef | undefined) => unknown, watch: CallWatch): Lane {
  const base = tmpdir();
  sweepDeadOwners(base, DIR_PREFIX);
  const dir = mkdtempSync(join(base, ownedPrefix(DIR_PREFIX)));
  const fds: number[] = [];
  const open = (path: string, flags: number): number => {
    const fd = openSync(path, flags);
    fds.push(fd);
    return fd;
  };
  try {
    const requestPath = join(dir, 'request');
    const replyPath = join(dir, 'reply');
    childProcess().execFileSync('mkfifo', ['-m', '600', requestPath, replyPath], { stdio: 'ignore' });
    // Opening one end of a FIFO waits for the other; these opens never do. A reader of
    // the request FIFO held for a moment lets its blocking writer open at once; likewise
    // a writer (read-write: never waits on Linux) lets the blocking reader of the reply open.
    const heldReader = open(requestPath, constants.O_RDONLY | constants.O_NONBLOCK);
    const request = open(requestPath, constants.O_WRONLY);
    const heldWriter = open(replyPath, constants.O_RDWR);
    const reply = open(replyPath, constants.O_RDONLY);
    let memory: LaneMemory | undefined;
    let ref: ViewRef | undefined;
    if (memoryAllowed) {
      const { buffer, byteOffset } = allocShared(LANE_BYTES);
      const bytes = new Uint8Array(buffer, byteOffset, LANE_BYTES);
      memory = laneMemory(bytes);
      ref = viewRef(bytes);
    }
    // An owner that maps the memory says so; one that cannot (no native part) serves the FIFOs alone.
    const mapped = ownerOpens(requestPath, replyPath, ref) === true;
    // From now on the owner is the request FIFO's only reader and the reply's only writer.
    for (const fd of [heldReader, heldWriter]) {
      closeSync(fd);
      fds.splice(fds.indexOf(fd), 1);
    }
    return new Lane(request, reply, watch, mapped ? memory : undefined);
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
