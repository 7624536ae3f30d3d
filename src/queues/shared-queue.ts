/**
 * A queue between threads, in shared memory: the items live in a SharedArrayBuffer
 * ring, so a put in one thread and a get in another never cross the event loop.
 *
 *   header (Int32), a cache line per group:
 *     P_LOCK · TAIL · PUT_BYTES · PUT_EPOCH | PUT_COUNT · PUTS | C_LOCK · HEAD · GET_EPOCH
 *     | GET_COUNT · GET_BYTES · GETS · DROPPED | GET_WAITERS | PUT_WAITERS | TASKS_DONE · SHUTDOWN · DONE
 *     (the lock lines also hold each side's journal, see "A process that dies inside" below)
 *   ring (bytes)    [length u32][tag u8][payload] … , a byte ring: a record that reaches the
 *                   end goes on at 0, so any record up to the whole ring fits an empty queue
 *
 *   PUT_BYTES - GET_BYTES = bytes held; a put fits when that plus its record is at most
 *   the ring's length, whatever TAIL is (no padding is ever wasted at the end).
 *
 * Every record is encoded by a fast path for numbers and strings and by v8.serialize
 * (structured clone) for anything else. Putters and getters have a lock each (a
 * two-lock queue): a putter writes only its own lines and the ring, a getter only its
 * own, and each reads the other side's counters only when its cached copy says the
 * ring is full or empty; so a producer and a consumer thread rarely touch the same
 * cache line. Waiters sleep on generation counters (PUTS, GETS, DONE) with the one
 * wait/wake mechanism of src/sync/waiting.ts, so the Promise forms leave the event
 * loop running and the *Sync forms block a worker.
 *
 * SharedLifoQueue and SharedPriorityQueue (shared-ordered.ts) keep the same header and
 * methods over a stack instead of the ring (shared-stack.ts): TAIL is its top, and gets
 * take P_LOCK too, since both ends meet there.
 *
 * A process that dies inside. Where the native part is loaded, the header and ring are
 * memory a child process maps (shm.ts), and a process can be SIGKILLed inside a put or a
 * get. The internal locks record their holder, and the next taker of a lock whose holder
 * died is told so (internal-lock.ts). Each side's section writes a journal on its lock's
 * line before its first change, then commits with one store of its count:
 *
 *   put:  journal TAIL, PUT_BYTES, PUT_EPOCH, PUT_COUNT ─► record, TAIL, PUT_BYTES ─► PUT_COUNT+1 (commit)
 *   get:  journal HEAD, GET_EPOCH, DROPPED, GET_COUNT, new GET_BYTES ─► copy out, HEAD ─► GET_COUNT+n (commit) ─► GET_BYTES
 *
 *   taker of a dead holder's lock: count still as journaled? undo from the journal : finish (GET_BYTES)
 *
 * The other side reads only the counts, GET_BYTES and the ring, and GET_BYTES moves
 * after its commit, so nothing uncommitted is ever seen across the two locks. The
 * unfinished count (taskDone/join) is derived from the counts rather than kept, so it
 * is never off by one either. An item a killed process had got is gone with it, as
 * one it had got and not yet used. The stack orders stay between threads (a thread is
 * never stopped inside a section); across processes their owner serves them.
 */
import { Empty, Full, QueueShutDown } from '../futures/errors.js';
import { checkTimeout, describe } from '../futures/future.js';
import { brandInstance, registerShared } from '../sync/shared.js';
import { untilShutDown } from './until-shutdown.js';
import { GET, inTurn, PUT, turnsWaiting } from './turns.js';
import { deadlineOf, runAsync, runSync, waitAsync, waitSync, wake, type WaitSteps } from '../sync/waiting.js';
import { lockInternal, unlockInternal } from '../sync/internal-lock.js';
import { beforePublish } from '../sync/publish.js';
import { allocShared } from '../sync/shm.js';
import { copyIn, copyOut, decode, EMPTY, encode, readU32, TAG_NUMBER, viewOf, writeU32 } from './records.js';
import { FIFO, orderKey, popRecord, PRIORITY, pushRecord, stackBytes, type OrderKey } from './shared-stack.js';

export { encode, forEachRecord } from './records.js';

// Int32 slots in groups 128 bytes apart (two cache lines: the prefetcher fetches lines
// in pairs), so that what one side
// writes on every operation is not on a line the other side reads on every operation.
const LINE = 32;
const P_LOCK = 0; // putters only
const TAIL = 1; // byte offset where the next record is written
const PUT_BYTES = 2; // ring bytes ever taken by puts (wrapping int32)
const PUT_EPOCH = 3; // PUT_BYTES / 2^EPOCH_BITS: tells a putter its cached GET_* may have wrapped
const P_SAVED = 4; // the putters' journal: TAIL, PUT_BYTES, PUT_EPOCH, PUT_COUNT before a put changed them
const PUT_COUNT = LINE; // records ever put (wrapping int32): getters read it when they seem empty
const PUTS = LINE + 1; // bumped on every put and on shutdown: getters wait on it
const C_LOCK = 2 * LINE; // getters only
const HEAD = 2 * LINE + 1; // byte offset of the next record to read
const GET_EPOCH = 2 * LINE + 2; // GET_BYTES / 2^EPOCH_BITS: tells a getter its cached PUT_COUNT may have wrapped
const C_SAVED = 2 * LINE + 3; // the getters' journal: HEAD, GET_EPOCH, DROPPED, new GET_BYTES, GET_COUNT (see _commitGet)
const GET_COUNT = 3 * LINE; // putters read these when they seem full
const GET_BYTES = 3 * LINE + 1;
const GETS = 3 * LINE + 2; // bumped on every get and on shutdown: putters wait on it
const DROPPED = 3 * LINE + 3; // records dropped by shutdown({ immediate }) (wrapping int32; under C_LOCK)
const GET_WAITERS = 4 * LINE; // threads asleep in get: every put reads it, few write it
const PUT_WAITERS = 5 * LINE;
const TASKS_DONE = 6 * LINE; // taskDone() calls ever (wrapping int32): unfinished = PUT_COUNT - TASKS_DONE - DROPPED
const SHUTDOWN = 6 * LINE + 1; // 1 shut down, 2 shut down with immediate (its items dropped)
const DONE = 6 * LINE + 2; // bumped when the unfinished count reaches 0: joiners wait on it
const HEADER = 7 * LINE;

/** Largest capacityBytes: byte counts and offsets are int32 words of the header. */
const MAX_CAPACITY = 2 ** 30;
/**
 * A thread caches the other side's counters and reads them afresh only when they say
 * full (or empty). Counters wrap at 2^32, so a cache older than that could look fresh:
 * each side also counts epochs of 2^30 bytes on its own line, and a cache taken more
 * than one epoch ago is read afresh. Within one epoch fewer than 2^31 bytes (and fewer
 * than 2^29 records, each at least 4 bytes) have gone by, so the int32 differences hold.
 */
const EPOCH_BITS = 30;
/**
 * A seam for the tests of a process that dies inside a section: with
 * CONCUR_TEST_QUEUE_DIE=<where>:<n> this process SIGKILLs itself in its nth section of
 * that kind: "put" with its record written but not committed, "get" with HEAD moved but
 * not committed, "got" committed but GET_BYTES not yet moved, "journal" with a get's
 * journal's count written but not its new GET_BYTES.
 */
const DIE = ((spec) => {
  const m = spec === undefined ? null : /^(put|get|got|journal):(\d+)$/.exec(spec);
  return m === null ? undefined : { where: m[1]!, n: Number(m[2]) };
})(process.env.CONCUR_TEST_QUEUE_DIE);
function dieHere(where: string): void {
  if (DIE!.where === where && --DIE!.n === 0) process.kill(process.pid, 'SIGKILL');
}

/** Polls of a blocking get or put before it sleeps. */
const SPINS = 1000;

/** Options of a SharedQueue. */
export interface SharedQueueOptions {
  /** Most items held; 0 (the default) or less means no bound but memory. */
  maxsize?: number;
  /** Bytes of shared memory for the items (64 to 1 GiB); an item takes its encoding plus 4 bytes. @default 1 MiB */
  capacityBytes?: number;
}

/** A FIFO queue that threads share: the Queue API plus *Sync forms; items are structured-cloned. */
export class SharedQueue<T = unknown> {
  /** @internal */
  readonly _header: Int32Array;
  /** @internal */
  readonly _ring: Uint8Array;
  /** Most items held; 0 means unbounded. */
  readonly maxsize: number;
  /** @internal How the items are kept and ordered: FIFO (a ring), LIFO or PRIORITY (a stack, see shared-stack.ts). */
  readonly _order: number;
  /**
   * @internal False for a queue that is itself the way puts are sent ahead (a proxy's
   * outbox): a put into it must not wait for them to land (see publish.ts).
   */
  _publishes = true;
  /** @internal This thread's last look at the getters' counters (never ahead of them), and PUT_EPOCH then. */
  _seenGetCount = 0;
  /** @internal */
  _seenGetBytes = 0;
  /** @internal */
  _seenPutEpoch = 0;
  /** @internal This thread's last look at PUT_COUNT, and GET_EPOCH then. */
  _seenPutCount = 0;
  /** @internal */
  _seenGetEpoch = 0;

  constructor(options: SharedQueueOptions = {}) {
    const maxsize = options.maxsize ?? 0;
    const capacity = options.capacityBytes ?? 1 << 20;
    if (!Number.isInteger(maxsize)) throw new TypeError(`maxsize must be an integer, got ${describe(maxsize)}`);
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > MAX_CAPACITY) {
      throw new RangeError(`capacityBytes must be an integer >= 64 and <= ${MAX_CAPACITY}, got ${describe(capacity)}`);
    }
    brandInstance(this, new.target);
    this.maxsize = maxsize;
    this._order = (new.target as { _ORDER?: number })._ORDER ?? FIFO;
    // In memory other processes can map where the native part is loaded (shm.ts): the
    // queue then crosses into a child process as the same memory. The header starts on a
    // 128-byte boundary, so that its groups keep to their own cache lines.
    const header = allocShared(HEADER * 4 + 128);
    this._header = new Int32Array(header.buffer, Math.ceil(header.byteOffset / 128) * 128, HEADER);
    const ring = allocShared(capacity);
    this._ring = new Uint8Array(ring.buffer, ring.byteOffset, capacity);
  }

  /** Items in the queue now. */
  qsize(): number {
    const h = this._header;
    const puts = Atomics.load(h, PUT_COUNT); // first: the count can only be under, never over
    return Math.max(0, (puts - Atomics.load(h, GET_COUNT)) | 0);
  }

  /** True if there are no items. */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /** True if a bounded queue holds maxsize items. */
  full(): boolean {
    return this.maxsize > 0 && this.qsize() >= this.maxsize;
  }

  /** Adds an item, waiting up to `timeout` ms for room; Full when the time runs out. */
  put(item: T, options: { timeout?: number } = {}): Promise<void> {
    const { timeout } = options;
    try {
      // The common case, room now, costs no generator and no extra promise hop; but
      // never ahead of this thread's earlier puts still waiting (turns.ts).
      if (!turnsWaiting(this, PUT)) {
        checkTimeout(timeout);
        if (this._tryPut(encode(item, true), this._keyOf(item))) return Promise.resolve();
      }
      // Encoded now: the item as it was when put, as when there is room.
      const record = encode(item);
      const key = this._keyOf(item);
      return inTurn(this, PUT, timeout, (left) => runAsync(this._putRecordSteps(record, left, false, key, false, timeout)), () => new Full(`queue still full after ${timeout} ms`));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `put`, blocking this thread. */
  putSync(item: T, options: { timeout?: number } = {}): void {
    if (options.timeout === undefined && this._tryPut(encode(item, true), this._keyOf(item))) return;
    runSync(this._putSteps(item, options.timeout, true));
  }

  /** Adds an item at once; Full if there is no room. */
  putNowait(item: T): void {
    if (!this._tryPut(encode(item, true), this._keyOf(item))) throw new Full(`queue is full (maxsize ${this.maxsize}, or its ${this._ring.length} bytes)`);
  }

  /** Removes and returns the next item, waiting up to `timeout` ms; Empty when the time runs out. */
  get(options: { timeout?: number } = {}): Promise<T> {
    const { timeout } = options;
    try {
      if (!turnsWaiting(this, GET)) {
        checkTimeout(timeout);
        const got = this._tryGet();
        if (got !== NOTHING) return Promise.resolve(got as T);
      }
      return inTurn(this, GET, timeout, (left) => runAsync(this._getSteps(left, false, timeout)), () => new Empty(`no item within ${timeout} ms`));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `get`, blocking this thread. */
  getSync(options: { timeout?: number } = {}): T {
    if (options.timeout === undefined) {
      const got = this._tryGet();
      if (got !== NOTHING) return got as T;
    }
    return runSync(this._getSteps(options.timeout, true));
  }

  /** @internal The put loop, for either driver: sleeps on GETS while full, announced in PUT_WAITERS. */
  *_putSteps(item: T, timeout: number | undefined, sync = false): WaitSteps<void> {
    // Only a blocking put may use the shared scratch record: nothing else runs in this thread until it returns.
    return yield* this._putRecordSteps(encode(item, sync), timeout, sync, this._keyOf(item));
  }

  /** @internal The put loop for a record already encoded (`givenBack`: as _tryPut's; `shown`: the timeout as the caller gave it, for Full's message). */
  *_putRecordSteps(record: Uint8Array, timeout: number | undefined, spin = false, key = this._keyOfRecord(record), givenBack = false, shown = timeout): WaitSteps<void> {
    const deadline = deadlineOf(timeout);
    const h = this._header;
    for (;;) {
      const gets = Atomics.load(h, GETS);
      if (this._tryPut(record, key, givenBack)) return;
      if (spin && changesSoon(h, GETS, gets)) continue;
      Atomics.add(h, PUT_WAITERS, 1);
      let woke: boolean;
      try {
        woke = yield { view: h, index: GETS, expected: gets, deadline };
      } finally {
        Atomics.sub(h, PUT_WAITERS, 1);
      }
      if (!woke && !this._tryPut(record, key, givenBack)) throw new Full(`queue still full after ${shown} ms`);
      if (!woke) return;
    }
  }

  /** @internal The get loop, for either driver: sleeps on PUTS while empty, announced in GET_WAITERS. */
  *_getSteps(timeout: number | undefined, spin = false, shown = timeout): WaitSteps<T> {
    const deadline = deadlineOf(timeout);
    const h = this._header;
    for (;;) {
      const puts = Atomics.load(h, PUTS);
      const got = this._tryGet();
      if (got !== NOTHING) return got as T;
      if (spin && changesSoon(h, PUTS, puts)) continue;
      Atomics.add(h, GET_WAITERS, 1);
      let woke: boolean;
      try {
        woke = yield { view: h, index: PUTS, expected: puts, deadline };
      } finally {
        Atomics.sub(h, GET_WAITERS, 1);
      }
      if (!woke) {
        const last = this._tryGet();
        if (last !== NOTHING) return last as T;
        throw new Empty(`no item within ${shown} ms`);
      }
    }
  }

  /** Removes and returns the next item at once; Empty if there is none. */
  getNowait(): T {
    const got = this._tryGet();
    if (got === NOTHING) throw new Empty('queue is empty');
    return got as T;
  }

  /** Marks one got item as processed, from any thread. Throws if called more times than items were put. */
  taskDone(): void {
    const h = this._header;
    beforePublish();
    for (;;) {
      const done = Atomics.load(h, TASKS_DONE);
      const n = this._unfinishedWith(done);
      if (n <= 0) throw new RangeError('taskDone() called too many times');
      if (Atomics.compareExchange(h, TASKS_DONE, done, (done + 1) | 0) === done) {
        // Asked again rather than n === 1: an immediate shutdown may have dropped the
        // rest since n was read, and then this is the taskDone that reaches 0.
        if (this._unfinishedWith((done + 1) | 0) === 0) {
          Atomics.add(h, DONE, 1);
          wake(h, DONE);
        }
        return;
      }
    }
  }

  /** @internal Items put and not yet marked done (nor dropped by an immediate shutdown). */
  _unfinished(): number {
    return this._unfinishedWith(Atomics.load(this._header, TASKS_DONE));
  }

  /**
   * @internal The unfinished count, derived from counters that each side changes in its
   * own section's commit: a process killed in a put or a get never leaves it off by one.
   * Never below 0 (a taskDone() for an item an immediate shutdown then dropped). Read
   * TASKS_DONE (the caller), DROPPED, then PUT_COUNT: what changes between the reads
   * can only make the count read higher than it then is, never lower (a put and a drop
   * of it between the reads of PUT_COUNT and DROPPED would hide an item in hand).
   */
  _unfinishedWith(tasksDone: number): number {
    const h = this._header;
    const dropped = Atomics.load(h, DROPPED);
    return Math.max(0, (Atomics.load(h, PUT_COUNT) - tasksDone - dropped) | 0);
  }

  /** Waits until every item put has been marked with taskDone(), in any thread. */
  async join(): Promise<void> {
    const h = this._header;
    for (let done = Atomics.load(h, DONE); this._finishDrop() > 0; done = Atomics.load(h, DONE)) await waitAsync(h, DONE, done, Infinity);
  }

  /** `join`, blocking this thread. */
  joinSync(): void {
    const h = this._header;
    for (let done = Atomics.load(h, DONE); this._finishDrop() > 0; done = Atomics.load(h, DONE)) waitSync(h, DONE, done, Infinity);
  }

  /**
   * @internal The unfinished count, for a joiner. Items still held after an immediate
   * shutdown mean its drop is under way, or was cut short by the death of its process:
   * the getters' lock is taken, which finishes it (see _lockGet), so a joiner never waits
   * for a getter that may never come.
   */
  _finishDrop(): number {
    if (Atomics.load(this._header, SHUTDOWN) === 2 && this._order === FIFO && this.qsize() > 0) {
      this._lockGet();
      this._unlock(C_LOCK);
    }
    return this._unfinished();
  }

  /** Shuts the queue down for every thread: puts raise QueueShutDown; gets once drained (at once with `immediate`). */
  shutdown(options: { immediate?: boolean } = {}): void {
    const h = this._header;
    beforePublish();
    this._lockPut();
    this._lockGet();
    try {
      // An immediate shutdown is remembered as such: an item given back later is dropped too.
      if (options.immediate) Atomics.store(h, SHUTDOWN, 2);
      else Atomics.compareExchange(h, SHUTDOWN, 0, 1);
      if (options.immediate) this._dropAll();
      Atomics.add(h, PUTS, 1);
      Atomics.add(h, GETS, 1);
    } finally {
      this._unlock(C_LOCK);
      this._unlock(P_LOCK);
    }
    wake(h, PUTS);
    wake(h, GETS);
    wake(h, DONE);
  }

  /** @internal Drops every item held, counting each as done (an immediate shutdown; under both locks). */
  _dropAll(): void {
    const h = this._header;
    const n = (h[PUT_COUNT]! - h[GET_COUNT]!) | 0;
    if (n <= 0) return;
    const unfinished = this._unfinished();
    let head = h[TAIL]!;
    if (this._order !== FIFO) {
      head = h[HEAD]!;
      h[TAIL] = 0;
    }
    this._commitGet(head, (h[PUT_BYTES]! - h[GET_BYTES]!) | 0, n, Math.min(n, unfinished));
    if (unfinished <= n) Atomics.add(h, DONE, 1);
  }

  /** Yields items as they come, until the queue is shut down and drained. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return untilShutDown(() => this.get());
  }

  /**
   * @internal Takes whole records (at least one, then up to `maxBytes` of them) as one
   * buffer of [length u32][record]…, or null when there are none: a proxy's helper
   * ships what its thread put, many items to a frame.
   */
  _takeRecords(maxBytes: number): { bytes: Uint8Array; count: number } | null {
    if (this._order !== FIFO) throw new Error('_takeRecords takes from a FIFO SharedQueue only');
    const h = this._header;
    const ring = this._ring;
    let out: Uint8Array;
    let count = 0;
    this._lockGet();
    try {
      const gotCount = h[GET_COUNT]!;
      const available = (Atomics.load(h, PUT_COUNT) - gotCount) | 0;
      if (available <= 0) return null;
      // Whole records are consecutive bytes of the ring from HEAD (wrapping at its end):
      // find how many fit maxBytes, then copy that span out.
      const head = h[HEAD]!;
      let span = 0;
      while (count < available) {
        const size = 4 + readU32(ring, (head + span) % ring.length);
        if (count > 0 && span + size > maxBytes) break;
        span += size;
        count++;
      }
      out = copyOut(ring, head, span);
      this._commitGet((head + span) % ring.length, span, count);
    } finally {
      this._unlock(C_LOCK);
    }
    if (Atomics.load(h, PUT_WAITERS) > 0) wake(h, GETS);
    return { bytes: out, count };
  }

  /** @internal Resolves once the queue holds an item (or is shut down), without taking it. */
  async _whenNonEmpty(): Promise<void> {
    const h = this._header;
    for (;;) {
      const puts = Atomics.load(h, PUTS);
      if (this.qsize() > 0 || Atomics.load(h, SHUTDOWN) !== 0) return;
      Atomics.add(h, GET_WAITERS, 1);
      try {
        await waitAsync(h, PUTS, puts, Infinity);
      } finally {
        Atomics.sub(h, GET_WAITERS, 1);
      }
    }
  }

  /** @internal The order key of an item (a priority queue's), checked before anything is encoded or locked. */
  _keyOf(item: unknown): OrderKey | undefined {
    return this._order === PRIORITY ? orderKey(item) : undefined;
  }

  /** @internal The order key of a record's item. */
  _keyOfRecord(record: Uint8Array): OrderKey | undefined {
    return this._order === PRIORITY ? orderKey(decode(record)) : undefined;
  }

  /**
   * @internal Writes a record if there is room; throws after shutdown. An item `givenBack`
   * (a get took it for a caller that could not have it) still goes in after a shutdown
   * that was not immediate: it was in the queue, and the getters that drain it are owed it.
   */
  _tryPut(record: Uint8Array, key = this._keyOfRecord(record), givenBack = false): boolean {
    const h = this._header;
    const ring = this._ring;
    const size = 4 + record.length;
    if (size > ring.length) {
      throw new RangeError(`an item of ${size} bytes (its ${record.length}-byte encoding and a 4-byte length) cannot fit in this queue's ring of ${ring.length} bytes (capacityBytes)`);
    }
    if (this._publishes) beforePublish();
    this._lockPut();
    try {
      const shut = Atomics.load(h, SHUTDOWN);
      if (shut !== 0 && !(givenBack && shut === 1)) throw new QueueShutDown('put on a shut-down queue');
      const putCount = h[PUT_COUNT]!;
      const putBytes = h[PUT_BYTES]!;
      if (this._order !== FIFO) {
        // A stack: getters take this lock too, so their counters hold still.
        const n = (putCount - h[GET_COUNT]!) | 0;
        if (this.maxsize > 0 && n >= this.maxsize) return false;
        const top = h[TAIL]!;
        if (top + 4 * n + size > stackBytes(ring)) return false; // its records and their index
        h[TAIL] = pushRecord(ring, top, n, record, this._order === PRIORITY ? key : undefined);
      } else if (!this._putInRing(record, putCount, putBytes)) return false;
      const after = (putBytes + size) | 0;
      if (after >>> EPOCH_BITS !== putBytes >>> EPOCH_BITS) h[PUT_EPOCH] = (h[PUT_EPOCH]! + 1) | 0;
      Atomics.store(h, PUT_BYTES, after);
      if (DIE !== undefined) dieHere('put');
      // The commit, last: a getter that sees the new count sees the record, and the
      // unfinished count (derived from it) grows with it.
      Atomics.store(h, PUT_COUNT, (putCount + 1) | 0);
      Atomics.add(h, PUTS, 1);
    } finally {
      this._unlock(P_LOCK);
    }
    // A waiter announces itself before it sleeps on PUTS, and PUTS changed first, so a
    // getter that missed this notify sees a changed PUTS and does not sleep.
    if (Atomics.load(h, GET_WAITERS) > 0) wake(h, PUTS, 1);
    return true;
  }

  /** @internal Writes a record at the ring's tail if there is room (FIFO, under P_LOCK). */
  _putInRing(record: Uint8Array, putCount: number, putBytes: number): boolean {
    const h = this._header;
    const ring = this._ring;
    const size = 4 + record.length;
    // The getters' counters as this thread last saw them, unless so much has gone
    // through since that the int32 differences below could have wrapped.
    if (h[PUT_EPOCH] !== this._seenPutEpoch && h[PUT_EPOCH] !== ((this._seenPutEpoch + 1) | 0)) this._refreshGot();
    if (this.maxsize > 0 && outside((putCount - this._seenGetCount) | 0, this.maxsize - 1)) {
      this._refreshGot();
      if (((putCount - this._seenGetCount) | 0) >= this.maxsize) return false;
    }
    if (outside((putBytes - this._seenGetBytes) | 0, ring.length - size)) {
      this._refreshGot();
      if (((putBytes - this._seenGetBytes) | 0) + size > ring.length) return false;
    }
    const tail = h[TAIL]!;
    // The journal, before the first change: a taker after this thread's death undoes a
    // put it finds uncommitted (PUT_COUNT still as saved here; stored last).
    h[P_SAVED] = tail;
    h[P_SAVED + 1] = putBytes;
    h[P_SAVED + 2] = h[PUT_EPOCH]!;
    Atomics.store(h, P_SAVED + 3, putCount);
    writeU32(ring, tail, record.length);
    copyIn(ring, (tail + 4) % ring.length, record);
    h[TAIL] = (tail + size) % ring.length;
    return true;
  }

  /** @internal Reads the next record, or NOTHING; throws QueueShutDown once shut down and empty. */
  _tryGet(): unknown {
    if (this._order !== FIFO) return this._tryPop();
    const h = this._header;
    const ring = this._ring;
    let bytes: Uint8Array;
    let number = 0;
    this._lockGet();
    try {
      const gotCount = h[GET_COUNT]!;
      // PUT_COUNT as this thread last saw it, unless so much has gone through since
      // that the int32 difference could have wrapped.
      if ((h[GET_EPOCH] !== this._seenGetEpoch && h[GET_EPOCH] !== ((this._seenGetEpoch + 1) | 0)) || ((this._seenPutCount - gotCount) | 0) <= 0) {
        this._seenPutCount = Atomics.load(h, PUT_COUNT);
        this._seenGetEpoch = h[GET_EPOCH]!;
        if (((this._seenPutCount - gotCount) | 0) <= 0) {
          if (Atomics.load(h, SHUTDOWN) !== 0) throw new QueueShutDown('get on a shut-down, empty queue');
          return NOTHING;
        }
      }
      const head = h[HEAD]!;
      const length = readU32(ring, head);
      const at = (head + 4) % ring.length;
      // A number is read in place when it does not straddle the ring's end; anything
      // else is copied out and decoded after the lock.
      if (ring[at] === TAG_NUMBER && at + length <= ring.length) {
        number = viewOf(ring).getFloat64(at + 1, true);
        bytes = EMPTY;
      } else bytes = copyOut(ring, at, length);
      this._commitGet((at + length) % ring.length, 4 + length, 1);
    } finally {
      this._unlock(C_LOCK);
    }
    if (Atomics.load(h, PUT_WAITERS) > 0) wake(h, GETS, 1);
    return bytes === EMPTY ? number : decode(bytes);
  }

  /** @internal `_tryGet` of a stack (LIFO or priority): the top record, under the one lock. */
  _tryPop(): unknown {
    const h = this._header;
    let bytes: Uint8Array;
    this._lockPut();
    try {
      const n = (h[PUT_COUNT]! - h[GET_COUNT]!) | 0;
      if (n <= 0) {
        if (Atomics.load(h, SHUTDOWN) !== 0) throw new QueueShutDown('get on a shut-down, empty queue');
        return NOTHING;
      }
      const popped = popRecord(this._ring, h[TAIL]!, n);
      bytes = popped.bytes;
      h[TAIL] = popped.top;
      this._commitGet(h[HEAD]!, 4 + bytes.length, 1);
    } finally {
      this._unlock(P_LOCK);
    }
    if (Atomics.load(h, PUT_WAITERS) > 0) wake(h, GETS, 1);
    return decode(bytes);
  }

  /** @internal Reads the getters' counters afresh (a putter, under P_LOCK). */
  _refreshGot(): void {
    const h = this._header;
    this._seenPutEpoch = h[PUT_EPOCH]!;
    this._seenGetCount = Atomics.load(h, GET_COUNT);
    this._seenGetBytes = Atomics.load(h, GET_BYTES);
  }

  /**
   * @internal Ends a get of `count` records (`bytes` of the ring, HEAD now at `head`;
   * `dropped` of them by an immediate shutdown), under the getters' lock. The journal
   * comes first, then the changes only getters read, then the commit (GET_COUNT), and
   * GET_BYTES after it: putters read GET_BYTES without the lock, so no putter ever sees
   * room that a get which then died had not committed.
   */
  _commitGet(head: number, bytes: number, count: number, dropped = 0): void {
    const h = this._header;
    const gotCount = h[GET_COUNT]!;
    const before = h[GET_BYTES]!;
    const after = (before + bytes) | 0;
    // The words an undo needs, then the count that marks them this section's, then the
    // GET_BYTES a finish needs: a finish reads it only once GET_COUNT has passed the
    // count, so it must never be written ahead of its own count (a getter killed
    // between the two would have the next getter finish an older section with this
    // one's bytes, and count free the bytes of an item still held).
    h[C_SAVED] = h[HEAD]!;
    h[C_SAVED + 1] = h[GET_EPOCH]!;
    h[C_SAVED + 2] = h[DROPPED]!;
    Atomics.store(h, C_SAVED + 4, gotCount);
    if (DIE !== undefined) dieHere('journal');
    Atomics.store(h, C_SAVED + 3, after);
    h[HEAD] = head;
    if (after >>> EPOCH_BITS !== before >>> EPOCH_BITS) h[GET_EPOCH] = (h[GET_EPOCH]! + 1) | 0;
    if (dropped !== 0) Atomics.store(h, DROPPED, (h[DROPPED]! + dropped) | 0);
    if (DIE !== undefined) dieHere('get');
    Atomics.store(h, GET_COUNT, (gotCount + count) | 0);
    if (DIE !== undefined) dieHere('got');
    Atomics.store(h, GET_BYTES, after);
    Atomics.add(h, GETS, 1);
  }

  /**
   * @internal Takes the putters' lock (a stack's only lock); a FIFO section whose holder
   * died inside is repaired first: a put it had not committed is undone (its record
   * was never counted, so no getter read it).
   */
  _lockPut(): void {
    if (!lockInternal(this._header, P_LOCK) || this._order !== FIFO) return;
    const h = this._header;
    if (Atomics.load(h, PUT_COUNT) === h[P_SAVED + 3]) {
      h[TAIL] = h[P_SAVED]!;
      h[PUT_EPOCH] = h[P_SAVED + 2]!;
      Atomics.store(h, PUT_BYTES, h[P_SAVED + 1]!);
    }
    Atomics.add(h, PUTS, 1);
    wake(h, PUTS);
  }

  /**
   * @internal Takes the getters' lock; a section whose holder died inside is repaired
   * first: a get it had not committed is undone (the record stays for the next getter),
   * one it had is finished (GET_BYTES), and a drop by an immediate shutdown is done again.
   */
  _lockGet(): void {
    if (!lockInternal(this._header, C_LOCK)) return;
    const h = this._header;
    if (Atomics.load(h, GET_COUNT) === h[C_SAVED + 4]) {
      h[HEAD] = h[C_SAVED]!;
      h[GET_EPOCH] = h[C_SAVED + 1]!;
      Atomics.store(h, DROPPED, h[C_SAVED + 2]!);
    } else if (((Atomics.load(h, GET_COUNT) - h[C_SAVED + 4]!) | 0) > 0) {
      Atomics.store(h, GET_BYTES, h[C_SAVED + 3]!);
    }
    if (Atomics.load(h, SHUTDOWN) === 2 && this._order === FIFO) this._dropAll();
    Atomics.add(h, GETS, 1);
    wake(h, GETS);
  }

  /** @internal */
  _unlock(at: number): void {
    unlockInternal(this._header, at);
  }
}

/**
 * Watches view[index] for a moment for a change from `value`. A blocked thread does this
 * before it sleeps: the other side then finds no sleeper and skips the futex wake, which
 * costs more than the item itself.
 */
function changesSoon(view: Int32Array, index: number, value: number): boolean {
  for (let i = 0; i < SPINS && Atomics.load(view, index) === value; i++);
  return Atomics.load(view, index) !== value;
}

const NOTHING = Symbol('nothing');

/** True unless 0 <= n <= max: a difference of wrapping counters that needs a fresh look. */
function outside(n: number, max: number): boolean {
  return n < 0 || n > max;
}

registerShared('SharedQueue', SharedQueue);
