/**
 * The deadline of a call through a lane. The calling thread blocks in a read of its
 * reply FIFO (lane.ts), which nothing in that thread can end; its helper thread, which
 * has an event loop of its own, watches the call and, once the deadline has passed,
 * writes a frame the read returns as "timed out". One word, shared by both, says where
 * the call stands; each side moves it by compare-and-swap, so exactly one wins a race
 * between a late answer and the deadline:
 *
 *   caller: arm ── (seq, PENDING) ─┬─ answer first: CAS → IDLE ─────────── the answer, the lane kept
 *                                  └─ helper first: CAS → TIMED_OUT
 *   helper:  reopens the reply FIFO (/proc/self/fd/N: write-only, non-blocking; the
 *            caller is its reader, so the open never waits), writes TIMED_OUT_HEADER,
 *            closes it ── SENT
 *   caller:  reads the sentinel (or an answer whose CAS failed), waits for SENT, then
 *            closes the lane: a sentinel may still be on its way, and the fd must not
 *            close (and its number come back as another file) while the helper opens it
 *
 * The helper's write end exists only for that moment, so an owner that exits still
 * ends a blocked read with EOF at once. The caller arms the word only when it is about to
 * block (a call its poll of the memory answers never does, unless the answer is too long
 * for the memory and comes by FIFO), and keeps it armed until it has read the answer's
 * last byte; it never asks the clock, and wakes the helper only if that sleeps: it
 * stores the word (timeout and fd before it), and the helper looks every quarter of the
 * timeout, timing a call from when it first saw it pending; a call thus times out after its timeout and at most a quarter more. The
 * helper stops looking after four looks with no call pending and sleeps on the word; the first
 * call after that wakes it (WATCHED says whether it looks).
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { HELPER_GONE, LANE_CALL, LANE_FD, LANE_TIMEOUT, LANE_WATCHED } from './protocol.js';

/** A call is not under way, or it has no deadline. */
const IDLE = 0;
/** A call is under way, with a deadline. */
const PENDING = 1;
/** The helper took the call for timed out: its sentinel is on its way. */
const TIMED_OUT = 2;
/** The helper wrote the sentinel (or could not) and will touch the lane no more. */
const SENT = 3;
const STATE = 3;

/** The frame header the helper writes for a call that timed out: no answer is this long. */
export const TIMED_OUT_HEADER = 0xffffffff;
/** Longest timeout the word carries; a longer one is no deadline at all (24 days). */
export const MAX_WATCHED_MS = 0x7fffffff;

/** The calling thread's side of the watch: one call at a time, as a thread makes them. */
export class CallWatch {
  readonly #w: Int32Array;
  #seq = 0;
  /** The word of the call under way, while it is armed. */
  #armed = 0;

  constructor(window: Int32Array) {
    this.#w = window;
  }

  /** The call about to block on `fd` times out after `ms` (1 to MAX_WATCHED_MS). */
  arm(fd: number, ms: number): void {
    const w = this.#w;
    w[LANE_FD] = fd;
    w[LANE_TIMEOUT] = ms; // both published by the store of the word below
    this.#seq = (this.#seq + 1) & 0x1fffffff;
    Atomics.store(w, LANE_CALL, (this.#armed = (this.#seq << 2) | PENDING));
    if (Atomics.load(w, LANE_WATCHED) === 0) {
      Atomics.store(w, LANE_WATCHED, 1);
      Atomics.notify(w, LANE_CALL);
    }
  }

  /** Whether a call is armed (and not yet disarmed). */
  get armed(): boolean {
    return this.#armed !== 0;
  }

  /**
   * The call is over (answered, or failed): true if it ended before the helper took it
   * for timed out, false if a sentinel is written or on its way (the lane is then
   * spoiled). Idempotent; true when nothing was armed.
   */
  disarm(): boolean {
    const word = this.#armed;
    if (word === 0) return true;
    this.#armed = 0;
    return Atomics.compareExchange(this.#w, LANE_CALL, word, (word & ~STATE) | IDLE) === word;
  }

  /** Whether the helper took the armed call for timed out (so a sentinel header is its, not the owner's). */
  fired(): boolean {
    const word = this.#armed;
    const now = Atomics.load(this.#w, LANE_CALL);
    return word !== 0 && (now & ~STATE) === (word & ~STATE) && (now & STATE) >= TIMED_OUT;
  }

  /** After disarm() said false: waits until the helper is done with the lane's fd. */
  waitSent(): void {
    const w = this.#w;
    for (;;) {
      const word = Atomics.load(w, LANE_CALL);
      if ((word & STATE) !== TIMED_OUT || Atomics.load(w, HELPER_GONE) === 1) return;
      Atomics.wait(w, LANE_CALL, word, 100);
    }
  }
}

/** How often the helper looks at least, and at most, while calls are made. */
const LOOK_MIN_MS = 1;
const LOOK_MAX_MS = 250;
/** Looks with no call under way after which the helper sleeps on the word. */
const IDLE_LOOKS = 4;

/** The helper's side: watches its thread's lane calls as long as the helper lives. */
export async function watchLaneCalls(w: Int32Array): Promise<void> {
  let seen = -1;
  let since = 0;
  let quiet = IDLE_LOOKS; // asleep until the first call
  for (;;) {
    const word = Atomics.load(w, LANE_CALL);
    let look = LOOK_MAX_MS;
    if ((word & STATE) === PENDING) {
      quiet = 0;
      const timeout = w[LANE_TIMEOUT]!;
      const now = performance.now();
      if (word !== seen) {
        seen = word;
        since = now;
      } else if (now - since >= timeout) {
        if (Atomics.compareExchange(w, LANE_CALL, word, (word & ~STATE) | TIMED_OUT) === word) sendTimedOut(w, w[LANE_FD]!, word);
        continue;
      }
      // Every quarter of its timeout, and no later than its deadline (as seen here).
      look = Math.max(LOOK_MIN_MS, Math.min(LOOK_MAX_MS, timeout / 4, since + timeout - now));
    } else if (++quiet > IDLE_LOOKS) {
      quiet = 0;
      // Said before the last look at the word: a call armed after it finds 0 and wakes us.
      Atomics.store(w, LANE_WATCHED, 0);
      const now = Atomics.load(w, LANE_CALL);
      if ((now & STATE) !== PENDING) {
        const waited = Atomics.waitAsync(w, LANE_CALL, now);
        if (waited.async) await waited.value;
      }
      Atomics.store(w, LANE_WATCHED, 1);
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, look));
  }
}

const SENTINEL = Buffer.alloc(4, 0xff);

/** Writes the sentinel into the caller's reply FIFO `fd` (a reopen of it: this thread holds no end), then says SENT. */
function sendTimedOut(w: Int32Array, fd: number, word: number): void {
  try {
    const end = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(end, SENTINEL); // 4 bytes: whole, or EAGAIN when the pipe is full (the caller is reading then, not blocked)
    } finally {
      closeSync(end);
    }
  } catch {
    // A full pipe (EAGAIN): its reader is not blocked on an empty pipe; it is reading an
    // answer, and finds the word changed once it has the header, or before its next read
    // of the rest of a long one (lane.ts). (Without /proc, which Linux has, the read
    // would wait for the answer.)
  } finally {
    Atomics.store(w, LANE_CALL, (word & ~STATE) | SENT);
    Atomics.notify(w, LANE_CALL);
  }
}
