/**
 * A one-way ring of byte records in a file on /dev/shm, shared by two processes:
 * the fast lane of a Pipe that crosses into a child process.
 *
 * Node processes share no memory, but two processes that open one tmpfs file share
 * its pages, and pread/pwrite of a few bytes cost ~0.3 us. A reader that polls the
 * ring notices a record within a fraction of a microsecond, where a message over the
 * IPC socket costs an event-loop wake-up on each side. A Pipe round trip measured
 * 16 us over IPC and ~6 us through two rings.
 *
 *   lane:  [read count, ~read count][awake, ~awake] ... | ring of RING bytes
 *   record (4-byte aligned, never split): [seq u32][length u32][payload]
 *
 * The writer writes length and payload with one pwrite and the seq with a second; the
 * reader reads the seq with one pread and the rest with another. x86's total store
 * order then guarantees that a reader who sees the seq sees the payload (string
 * copies may reorder stores among themselves, never past a later instruction's), so
 * the lane is used on x64 Linux only. Records of one lap start at other places than
 * those of the last, so the bytes where the next record belongs could be anything
 * from an earlier lap: the writer zeroes the 4 bytes after each record (with the
 * record, before its seq), and the reader zeroes the seq of the record at 0 once it
 * has read it. So where the next record belongs there is either 0 or that record's
 * seq (seqs are never 0). A record that does not fit before the end of the ring starts
 * at 0, and both sides skip the rest; a reader that finds nothing where the next record
 * belongs but a record at 0 looks again where it belongs, since the writer may have
 * written there and then lapped to 0 between the reader's two loads. Counters the other side reads are written with their complement, so a torn
 * read is detected and ignored: they are hints, and a full ring or a missed hint only
 * sends the value the slow way.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { onExitCleanup } from '../util/exit-cleanup.js';
import { ownedPrefix, sweepDeadOwners } from '../util/leftovers.js';

/** Bytes of records one lane holds. */
export const RING = 64 * 1024;
const CONTROL = 64;
const LANE = CONTROL + RING;
const READ_COUNT = 0;
const AWAKE = 8;
const HEADER = 8;
/** Records larger than this take the slow lane, so one value never fills the ring. */
export const MAX_RECORD = RING / 4;

const align4 = (n: number): number => (n + 3) & ~3;
const ZEROS = Buffer.alloc(4);

/** The seq after `seq`: a u32 that skips 0, since 0 marks an empty place in the ring. */
export const nextSeq = (seq: number): number => (seq + 1) >>> 0 || 1;

const SHM = '/dev/shm';
const RING_PREFIX = 'concur-pipe-';

/** Whether this machine can share a ring file: Linux on x64 with a tmpfs at /dev/shm. */
export const ringsAvailable = process.platform === 'linux' && process.arch === 'x64' && existsSync(SHM);

// Ring files this process made and has not removed yet, with the hook that removes
// them however it ends (a file stays only until the child has opened it).
const made = new Map<string, () => void>();

/** Removes a ring file this process made; it may already be gone. */
export function unlinkRingFile(path: string): void {
  made.get(path)?.();
  made.delete(path);
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/** Creates the file for two lanes (0: parent to child, 1: child to parent); returns its path and fd. */
export function createRingFile(): { path: string; fd: number } {
  // Files of programs that died before their child opened them (a SIGKILL) go first.
  sweepDeadOwners(SHM, RING_PREFIX);
  // Web Crypto: importing node:crypto would cost every thread that loads concur at start.
  const path = `${SHM}/${ownedPrefix(RING_PREFIX)}${Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString('hex')}`;
  const fd = openSync(path, 'wx+', 0o600);
  try {
    ftruncateSync(fd, 2 * LANE);
  } catch (err) {
    closeSync(fd);
    unlinkSync(path);
    throw err;
  }
  made.set(path, onExitCleanup(() => unlinkRingFile(path)));
  return { path, fd };
}

/** Opens a ring file another process created. */
export function openRingFile(path: string): number {
  return openSync(path, 'r+');
}

/** A counter written with its complement beside it. */
class Word {
  readonly #buffer = Buffer.alloc(8);
  readonly #view = new Uint32Array(this.#buffer.buffer, this.#buffer.byteOffset, 2);
  constructor(
    readonly fd: number,
    readonly position: number,
  ) {}

  write(value: number): void {
    this.#view[0] = value;
    this.#view[1] = ~value;
    writeSync(this.fd, this.#buffer, 0, 8, this.position);
  }

  /** The value, or undefined when the read caught a write half done. */
  read(): number | undefined {
    readSync(this.fd, this.#buffer, 0, 8, this.position);
    const v = this.#view;
    return v[0] === (~v[1]! >>> 0) ? v[0] : undefined;
  }
}

/** The writing side of one lane. */
export class RingWriter {
  readonly #fd: number;
  readonly #data: number;
  readonly #readCount: Word;
  readonly #awake: Word;
  readonly #seq = new Uint32Array(1);
  readonly #seqBytes = Buffer.from(this.#seq.buffer);
  #written = 0; // bytes of the ring used so far, skips included (mod 2^32)
  #read = 0; // the reader's count, as last seen

  constructor(fd: number, lane: number) {
    this.#fd = fd;
    this.#data = lane * LANE + CONTROL;
    this.#readCount = new Word(fd, lane * LANE + READ_COUNT);
    this.#awake = new Word(fd, lane * LANE + AWAKE);
  }

  /**
   * Writes the record (`seq` is never 0) whose payload is `buffer[HEADER_ROOM, HEADER_ROOM + length)` (the
   * first bytes are scratch for the header); false if the ring has no room for it now.
   */
  tryWrite(seq: number, buffer: Buffer, length: number): boolean {
    const size = align4(HEADER + length);
    if (size > MAX_RECORD) return false;
    const at = this.#written % RING;
    const skip = at + size > RING ? RING - at : 0;
    // Room for the 4 zero bytes after the record too: they may not land on an unread seq.
    if (!this.#hasRoom(skip + size + 4)) return false;
    const start = skip === 0 ? at : 0;
    buffer.writeUInt32LE(length, HEADER_ROOM - 4);
    const end = start + size;
    let bytes = size - 4;
    if (end + 4 <= RING) {
      buffer.fill(0, HEADER_ROOM + length, size + 4); // padding, then the next record's empty seq
      bytes += 4;
    }
    writeSync(this.#fd, buffer, HEADER_ROOM - 4, bytes, this.#data + start + 4);
    this.#seq[0] = seq;
    writeSync(this.#fd, this.#seqBytes, 0, 4, this.#data + start);
    this.#written = (this.#written + skip + size) >>> 0;
    return true;
  }

  /** Whether the reader says it will look at the ring without being told. */
  readerAwake(): boolean {
    return this.#awake.read() === 1;
  }

  #hasRoom(bytes: number): boolean {
    if (RING - ((this.#written - this.#read) >>> 0) >= bytes) return true;
    this.#read = this.#readCount.read() ?? this.#read;
    return RING - ((this.#written - this.#read) >>> 0) >= bytes;
  }
}

/** Bytes a buffer handed to `RingWriter.tryWrite` keeps free before the payload. */
export const HEADER_ROOM = 8;

/** The reading side of one lane. */
export class RingReader {
  readonly #fd: number;
  readonly #data: number;
  readonly #readCount: Word;
  readonly #awake: Word;
  readonly #head = Buffer.alloc(4);
  #buffer = Buffer.alloc(4096);
  #count = 0; // bytes of the ring consumed, skips included (mod 2^32)
  #published = 0;
  #awakeFlag = -1;

  constructor(fd: number, lane: number) {
    this.#fd = fd;
    this.#data = lane * LANE + CONTROL;
    this.#readCount = new Word(fd, lane * LANE + READ_COUNT);
    this.#awake = new Word(fd, lane * LANE + AWAKE);
  }

  /** Tells the writer whether to send a wake-up with each record (0) or not (1). */
  setAwake(awake: boolean): void {
    const flag = awake ? 1 : 0;
    if (flag === this.#awakeFlag) return;
    this.#awakeFlag = flag;
    this.#awake.write(flag);
  }

  /** The next record, if one is there: its seq, and its payload as `bytes[offset, offset + length)`. */
  tryRead(): { seq: number; bytes: Buffer; offset: number; length: number } | undefined {
    const at = this.#count % RING;
    let start = -1;
    let seq = 0;
    if (at + HEADER <= RING) {
      seq = this._seqAt(at);
      if (seq !== 0) start = at;
    }
    if (start < 0 && at !== 0) {
      seq = this._seqAt(0);
      if (seq !== 0) {
        start = 0;
        // A record at 0 is the next one only if the writer skipped the end of the ring.
        // Between our two loads it may instead have written the next record at `at`,
        // then the rest of the lap, then wrapped to 0: loads are not reordered with
        // loads, nor stores with stores, so the record at `at` shows now if it exists.
        if (at + HEADER <= RING) {
          const here = this._seqAt(at);
          if (here !== 0) {
            start = at;
            seq = here;
          }
        }
      }
    }
    if (start < 0) return undefined;
    const fd = this.#fd;
    let buffer = this.#buffer;
    const got = readSync(fd, buffer, 0, Math.min(buffer.length, RING - start - 4), this.#data + start + 4);
    const length = buffer.readUInt32LE(0);
    if (length + 4 > got) {
      if (length + 4 > buffer.length) {
        const bigger = Buffer.alloc(align4(length + 4));
        buffer.copy(bigger, 0, 0, got);
        this.#buffer = buffer = bigger;
      }
      readSync(fd, buffer, got, length + 4 - got, this.#data + start + 4 + got);
    }
    const size = align4(HEADER + length);
    if (start === 0) writeSync(fd, ZEROS, 0, 4, this.#data); // the rest of the ring has the writer's zeros
    const skip = start === 0 && at !== 0 ? RING - at : 0;
    this.#count = (this.#count + skip + size) >>> 0;
    if (((this.#count - this.#published) >>> 0) >= RING / 4) this.publish();
    return { seq, bytes: buffer, offset: 4, length };
  }

  /** Tells the writer how far this side has read, so it can reuse the space. */
  publish(): void {
    this.#published = this.#count;
    this.#readCount.write(this.#count);
  }

  /** @internal The seq word at `at` (0: no record there yet); a seam for tests that interleave a writer. */
  _seqAt(at: number): number {
    readSync(this.#fd, this.#head, 0, 4, this.#data + at);
    return this.#head.readUInt32LE(0);
  }
}
