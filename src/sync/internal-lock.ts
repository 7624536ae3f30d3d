/**
 * A futex mutex (Drepper's) for concur's own short critical sections over shared state:
 * 0 free, 1 held, 2 held with sleepers. Sections guarded by it only read and write a few
 * words, never wait and never run user code, so a waiter spins a little before it
 * sleeps. The holder is never stopped inside (enterInternal: a thread being terminated
 * is let out first), so it is never left held; a sleep still lasts at most a slice.
 */
import { enterInternal, leaveInternal } from './thread-life.js';

const SLICE_MS = 250;

/** Takes the mutex in view[at]. */
export function lockInternal(view: Int32Array, at: number): void {
  enterInternal();
  for (let spins = 0; spins < 32; spins++) if (Atomics.compareExchange(view, at, 0, 1) === 0) return;
  let c = Atomics.exchange(view, at, 2);
  while (c !== 0) {
    Atomics.wait(view, at, 2, SLICE_MS);
    c = Atomics.exchange(view, at, 2);
  }
}

/** Gives the mutex in view[at] back. */
export function unlockInternal(view: Int32Array, at: number): void {
  if (Atomics.exchange(view, at, 0) === 2) Atomics.notify(view, at, 1);
  leaveInternal();
}
