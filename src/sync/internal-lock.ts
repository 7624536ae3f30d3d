/**
 * A futex mutex for concur's own short critical sections over shared state, robust as
 * Linux's robust futexes are: the word holds its holder's owner id (0 when free), with
 * SLEEPERS set once a waiter sleeps on it, so that release wakes only when someone
 * sleeps (Drepper's "mutex 2" with the holder's id in place of the 1).
 *
 *   lock:   CAS 0 -> ME ─────────────────────────────► held (no system call)
 *           else set SLEEPERS, sleep on the word ◄────── unlock: exchange 0, wake one if SLEEPERS
 *           a slice without a wake-up: is the holder dead? then CAS holder -> ME, "took over"
 *
 * Sections guarded by it only read and write a few words, never wait and never run user
 * code, so a waiter spins a little before it sleeps. A thread is never stopped inside
 * (enterInternal: a thread being terminated is let out first), but a process can be
 * SIGKILLed anywhere: with the memory shared between processes a holder may die inside,
 * and lockInternal then tells the next taker, which repairs what the section guarded
 * (see the SharedQueue's journal). Waits on region memory go through the futex
 * (waiting.ts), so they wake across processes.
 */
import { enterInternal, leaveInternal } from './thread-life.js';
import { isOwnerDead, ME } from './owner.js';
import { waitSync, wake } from './waiting.js';

/** Set in the word while someone sleeps on it (owner ids stay below it). */
const SLEEPERS = 1 << 30;
const OWNER = SLEEPERS - 1;
/** The word unchanged this long makes a waiter ask whether the holder died. */
const SLICE_MS = 100;

/**
 * Takes the mutex in view[at]. True when it was taken over from a holder that died
 * inside its section: what the section guarded may be half updated, and the caller
 * must repair it before going on.
 */
export function lockInternal(view: Int32Array, at: number): boolean {
  enterInternal();
  for (let spins = 0; spins < 32; spins++) if (Atomics.compareExchange(view, at, 0, ME) === 0) return false;
  return lockContended(view, at);
}

function lockContended(view: Int32Array, at: number): boolean {
  // The word as last seen (with SLEEPERS), and since when: it unchanged for a whole
  // slice makes the waiter ask about its holder. Timed here rather than by one sleep,
  // since a sleep ends early without a wake-up (waitSync sleeps in 50 ms slices in a
  // worker), and a live holder's id is asked about again only a slice later.
  let watched = 0;
  let since = 0;
  for (;;) {
    const c = Atomics.load(view, at);
    // Taken after contention, it keeps SLEEPERS: others may still sleep (as Drepper's 2).
    if (c === 0) {
      if (Atomics.compareExchange(view, at, 0, ME | SLEEPERS) === 0) return false;
      continue;
    }
    const now = performance.now();
    if ((c | SLEEPERS) !== watched) {
      watched = c | SLEEPERS;
      since = now;
    } else if (now - since >= SLICE_MS) {
      if (isOwnerDead(c & OWNER)) {
        if (Atomics.compareExchange(view, at, c, ME | SLEEPERS) === c) return true;
        continue;
      }
      since = now;
    }
    if ((c & SLEEPERS) === 0 && Atomics.compareExchange(view, at, c, c | SLEEPERS) !== c) continue;
    waitSync(view, at, c | SLEEPERS, since + SLICE_MS);
  }
}

/** Gives the mutex in view[at] back. */
export function unlockInternal(view: Int32Array, at: number): void {
  if ((Atomics.exchange(view, at, 0) & SLEEPERS) !== 0) wake(view, at, 1);
  leaveInternal();
}

/** True while the mutex in view[at] is held (by a live holder or one that died inside). */
export function isLockedInternal(view: Int32Array, at: number): boolean {
  return Atomics.load(view, at) !== 0;
}
