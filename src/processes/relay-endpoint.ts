/**
 * The transport of a Pipe end whose other end is in another process.
 *
 *   post ─► value small enough and ring has room? ─yes─► ring file ──► other side polls it
 *              │ no                                      └ reader asleep? also a nudge over IPC
 *              └────────────────────────────────────────► IPC message
 *
 * Every value carries a sequence number, and the receiving side delivers in that order
 * whichever lane each came by: IPC (always there; large values, a full ring, a closed
 * Pipe) or the shared-file ring (file-ring.ts; small values, when the machine allows).
 *
 * A receiver with a recv() waiting polls its ring for a moment from an immediate (so
 * I/O already due is served first), then tells the writer it sleeps and waits for a
 * nudge. How long it polls adapts, from 0.1 to 0.7 ms: a hit lengthens it, a miss
 * shortens it. Telling the writer "asleep" and the writer reading it are two
 * processes' plain stores and loads, which x86 may reorder; so a sleeping receiver also
 * re-checks its ring after 1 ms, 2 ms, ... up to 250 ms: a lost nudge costs a moment,
 * never a hang.
 */
import { closeSync } from 'node:fs';
import { EOFError } from '../futures/errors.js';
import type { Endpoint } from '../transport/pipe.js';
import { decodeValue, encodeValue, type ValueCodecOptions } from '../transport/value-codec.js';
import { toProxy } from '../proxy/proxies.js';
import { HEADER_ROOM, MAX_RECORD, nextSeq, RingReader, RingWriter, unlinkRingFile } from './file-ring.js';
import { sendingData } from '../sync/views.js';
import { isShared } from '../sync/shared.js';
import { goneCheck } from '../sync/shm-tree.js';
import { carriesCount } from '../sync/shm-crossing.js';

/** What the ring carries: a string of any length that fits, and anything else as a clone (what does not fit goes over IPC). */
export const RING_VALUES: ValueCodecOptions = { maxString: Infinity, clone: true };

/** What travels over IPC for one relayed Pipe. */
export interface RelayMessage {
  $concurPipe: number;
  seq?: number;
  value?: unknown;
  close?: true;
  /** "look at your ring": the writer found the reader asleep. */
  nudge?: true;
  /** From the child: whether it could open the ring file. */
  opened?: boolean;
}

/** The IPC side of a relayed Pipe end, in the parent or in the child. */
export interface RelayIO {
  send(message: RelayMessage): void;
  connected(): boolean;
  /** Delivers this Pipe's messages, and `onGone` once the other process is gone. */
  listen(onMessage: (m: RelayMessage) => void, onGone: () => void): void;
  /** Stops delivering. */
  detach(): void;
  hold?(waiting: boolean): void;
  /** What post() throws when the other process is gone. */
  readonly goneMessage: string;
  /** The other process. */
  readonly peerPid: number;
}

/** The ring lanes of one end, and what to do once the other side has opened the file. */
export interface RelayRings {
  fd: number;
  reader: RingReader;
  /** Undefined until the other side has the file open (the parent waits for its word). */
  writer: RingWriter | undefined;
  /** The parent's writer lane, enabled by the child's `opened`. */
  writerLane?: number;
  /** The file to unlink once the child has opened it (parent only). */
  path?: string;
}

// A waiting receiver polls for SPIN_MIN_MS + score * SPIN_STEP_MS (0.1 to 0.7 ms). Never
// less than the minimum: if both ends stopped polling, every value would need a nudge,
// each answer would come too late for the other's poll, and neither would ever poll
// again. A minimum of 20 us measured 140k round trips/s with wide swings (a GC pause or
// a moment off the CPU on one side sends the other to sleep); 100 us, 175k.
const SPIN_MIN_MS = 0.1;
const SPIN_STEP_MS = 0.05;
const SPIN_STEPS = 12;
const FIRST_RECHECK_MS = 1;
const LAST_RECHECK_MS = 250;

type Pending = { value: unknown } | { close: true };

/** A Pipe end's transport to another process: IPC, plus a shared-file ring where it can. */
export class RelayEndpoint implements Endpoint {
  readonly #io: RelayIO;
  readonly #id: number;
  #rings: RelayRings | undefined;
  #scratch: Buffer | undefined;
  #outSeq = 0;
  #nextSeq = 1;
  readonly #pending = new Map<number, Pending>();
  #onValue: ((value: unknown) => void) | undefined;
  #onClose: (() => void) | undefined;
  #ended = false;
  #delivered = 0;
  #waiting = false;
  #spinScheduled = false;
  #score = SPIN_STEPS / 2;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the other process is gone, by its start time read when this end was made (a pid may come again). */
  readonly #peerGone: () => boolean;

  constructor(io: RelayIO, id: number, rings: RelayRings | undefined) {
    this.#io = io;
    this.#id = id;
    this.#rings = rings;
    this.#peerGone = goneCheck(io.peerPid);
  }

  post(value: unknown): void {
    if (!this.#io.connected()) throw new EOFError(this.#io.goneMessage);
    const crossing = isShared(value) ? { receiverGone: this.#receiverGone, counted: 0 } : undefined;
    const v = toProxy(value, true, crossing);
    const seq = (this.#outSeq = nextSeq(this.#outSeq));
    const writer = this.#rings?.writer;
    // Memory a sender keeps until the receiver maps it goes by IPC, which the receiver
    // hears at once: the ring is read only when it looks (a recv()). The sender may be
    // another process whose end this one relays, its count already in the form.
    if (writer !== undefined && !(crossing !== undefined && (crossing.counted > 0 || carriesCount(v)))) {
      const scratch = (this.#scratch ??= Buffer.alloc(HEADER_ROOM + MAX_RECORD + 4));
      const length = encodeValue(v, scratch, HEADER_ROOM, RING_VALUES);
      if (length >= 0 && writer.tryWrite(seq, scratch, length)) {
        if (!writer.readerAwake()) this.#io.send({ $concurPipe: this.#id, nudge: true });
        return;
      }
    }
    sendingData(v, (plain) => this.#io.send({ $concurPipe: this.#id, seq, value: plain }));
  }

  /**
   * True once the other end will map nothing more this end sent: its end closed (what
   * it received before, it mapped as it arrived), or its process is gone.
   */
  readonly #receiverGone = (): boolean => this.#ended || !this.#io.connected() || this.#peerGone();

  close(): void {
    if (this.#io.connected()) this.#io.send({ $concurPipe: this.#id, seq: (this.#outSeq = nextSeq(this.#outSeq)), close: true });
    this.#stopWaiting();
    this.#io.detach();
    this.#closeRings();
  }

  listen(onValue: (value: unknown) => void, onClose: () => void): void {
    this.#onValue = onValue;
    this.#onClose = onClose;
    this.#io.listen(this.#onMessage, this.#onGone);
    this.drain();
  }

  detach(): void {
    this.#stopWaiting();
    this.#onValue = this.#onClose = undefined;
    this.#io.detach();
  }

  hold(waiting: boolean): void {
    this.#io.hold?.(waiting);
    const reader = this.#rings?.reader;
    if (reader === undefined || this.#ended) return;
    if (!waiting) {
      this.#stopWaiting();
      reader.setAwake(true); // not waiting: the next recv() looks at the ring itself
      return;
    }
    // Never delivers from here: the caller is still setting up its wait.
    this.#waiting = true;
    if (!this.#spinScheduled) {
      this.#spinScheduled = true;
      setImmediate(this.#spin);
    }
  }

  /** Delivers, in order, every value that has arrived by either lane. */
  drain(): void {
    if (this.#onValue === undefined || this.#ended) return;
    const reader = this.#rings?.reader;
    for (;;) {
      const next = this.#pending.get(this.#nextSeq);
      if (next !== undefined) {
        this.#pending.delete(this.#nextSeq);
        this.#nextSeq = nextSeq(this.#nextSeq);
        if ('close' in next) {
          this.#end();
          return;
        }
        this.#deliver(next.value);
        continue;
      }
      const record = reader?.tryRead();
      if (record === undefined) return;
      const value = decodeValue(record.bytes, record.offset, record.length, RING_VALUES);
      if (record.seq === this.#nextSeq) {
        this.#nextSeq = nextSeq(this.#nextSeq);
        this.#deliver(value);
      } else {
        this.#pending.set(record.seq, { value }); // values before it are still on their way over IPC
      }
    }
  }

  readonly #onMessage = (m: RelayMessage): void => {
    if (m.opened !== undefined) {
      this.#childOpened(m.opened);
    } else if (m.seq !== undefined) {
      this.#pending.set(m.seq, m.close ? { close: true } : { value: m.value });
    }
    this.drain();
  };

  /** The other process is gone: what it wrote is still in the ring; deliver it all, then the end. */
  readonly #onGone = (): void => {
    if (this.#ended) return;
    const reader = this.#rings?.reader;
    for (let r = reader?.tryRead(); r !== undefined; r = reader?.tryRead()) this.#pending.set(r.seq, { value: decodeValue(r.bytes, r.offset, r.length, RING_VALUES) });
    // In order from the next expected; a value lost with its process leaves a gap.
    const seqs = [...this.#pending.keys()].sort((a, b) => ((a - this.#nextSeq) >>> 0) - ((b - this.#nextSeq) >>> 0));
    for (const seq of seqs) {
      const p = this.#pending.get(seq)!;
      if ('close' in p) break;
      this.#deliver(p.value);
    }
    this.#pending.clear();
    this.#end();
  };

  #deliver(value: unknown): void {
    this.#delivered++;
    this.#onValue?.(value);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopWaiting();
    this.#closeRings();
    this.#onClose?.();
  }

  #childOpened(opened: boolean): void {
    const rings = this.#rings;
    if (rings === undefined) return;
    if (rings.path !== undefined) {
      unlinkRingFile(rings.path);
      rings.path = undefined;
    }
    if (opened && rings.writerLane !== undefined) rings.writer = new RingWriter(rings.fd, rings.writerLane);
    if (!opened) this.#closeRings();
  }

  readonly #spin = (): void => {
    this.#spinScheduled = false;
    if (!this.#waiting || this.#ended) return;
    this.#rings?.reader.setAwake(true);
    const before = this.#delivered;
    const until = performance.now() + SPIN_MIN_MS + this.#score * SPIN_STEP_MS;
    do {
      this.drain();
      if (this.#delivered !== before) {
        if (this.#score < SPIN_STEPS) this.#score++;
        return;
      }
    } while (this.#waiting && performance.now() < until);
    if (this.#score > 0) this.#score--;
    if (this.#waiting) this.#sleep();
  };

  #sleep(): void {
    const reader = this.#rings?.reader;
    if (reader === undefined) return;
    reader.setAwake(false);
    this.drain(); // what came before the writer could see "asleep"
    if (this.#waiting && this.#timer === undefined) this.#recheckAfter(FIRST_RECHECK_MS);
  }

  #recheckAfter(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#waiting || this.#ended) return;
      this.drain();
      if (this.#waiting) this.#recheckAfter(Math.min(ms * 2, LAST_RECHECK_MS));
    }, ms);
    this.#timer.unref(); // the IPC channel keeps a waiting program alive, not this
  }

  #stopWaiting(): void {
    this.#waiting = false;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #closeRings(): void {
    const rings = this.#rings;
    if (rings === undefined) return;
    this.#rings = undefined;
    if (rings.path !== undefined) unlinkRingFile(rings.path);
    try {
      closeSync(rings.fd);
    } catch {
      // already closed
    }
  }
}
