/**
 * The one wait/wake mechanism every primitive shares: wait while `view[index]` holds
 * `expected`, then re-check. Synchronous waits block the thread with Atomics.wait (for
 * CPU-bound worker code); asynchronous ones use Atomics.waitAsync, which leaves the
 * event loop running. Deadlines are absolute (performance.now() ms) so that a loop of
 * spurious wake-ups never stretches a timeout.
 */
import { isMainThread } from 'node:worker_threads';
import { checkTimeout } from '../futures/future.js';
import { futexWait, futexWaitAsync, futexWake, isRegion } from './shm.js';

/** Turns a timeout in ms (undefined: forever) into an absolute deadline. */
export function deadlineOf(timeout: number | undefined, what = 'timeout'): number {
  checkTimeout(timeout, what);
  return timeout === undefined ? Infinity : performance.now() + timeout;
}

/** Milliseconds left before `deadline` (Infinity for none), never negative. */
export function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/**
 * No single sleep lasts longer than this: a waiter then re-checks its condition (every
 * wait loop treats a wake-up as a hint), so even a wake-up lost between threads or
 * processes costs a moment, never a hang. CONCUR_TEST_SLICE_MS lengthens it for tests
 * that must tell a wait that was woken from one that only re-checked: with slices of
 * minutes, a lost or queued wake-up shows as a hang rather than as a delay a loaded
 * machine can also cause.
 */
const SLICE_MS = Number(process.env.CONCUR_TEST_SLICE_MS) > 0 ? Number(process.env.CONCUR_TEST_SLICE_MS) : 250; // the variable: a test seam

/**
 * A futex wait in a worker thread is not cut short by terminate() as Atomics.wait is: it
 * sleeps in shorter slices there, so a stopped thread ends soon.
 */
const FUTEX_SLICE_MS = isMainThread ? SLICE_MS : 50;

/** Blocks while view[index] === expected, until woken or the deadline; false when the time ran out. */
export function waitSync(view: Int32Array, index: number, expected: number, deadline: number): boolean {
  const left = remaining(deadline);
  if (left === 0) return Atomics.load(view, index) !== expected;
  // Memory other processes map: their wakes come through the kernel, never V8's wait list.
  if (isRegion(view.buffer)) return futexWait(view, index, expected, Math.min(left, FUTEX_SLICE_MS)) !== 2 || remaining(deadline) > 0;
  return Atomics.wait(view, index, expected, Math.min(left, SLICE_MS)) !== 'timed-out' || remaining(deadline) > 0;
}

/** Resolves once view[index] !== expected is worth re-checking; false when the time ran out. */
export async function waitAsync(view: Int32Array, index: number, expected: number, deadline: number): Promise<boolean> {
  const left = remaining(deadline);
  if (left === 0) return Atomics.load(view, index) !== expected;
  const slice = Math.min(left, SLICE_MS);
  // Memory other processes map waits in the kernel; the rest on V8's wait list.
  // (The native wait holds the event loop open itself while it is pending.)
  if (isRegion(view.buffer)) return (await futexWaitAsync(view, index, expected, slice)) !== 2 || remaining(deadline) > 0;
  const r = Atomics.waitAsync(view, index, expected, slice);
  if (!r.async) return r.value !== 'timed-out' || remaining(deadline) > 0;
  const pending = r.value;
  // A pending wait does not keep the event loop alive, but a waiter should, as a
  // blocked Python thread does: hold it open with a timer until the wait ends.
  const keep = setTimeout(() => {}, slice + 1000);
  try {
    return (await pending) !== 'timed-out' || remaining(deadline) > 0;
  } finally {
    clearTimeout(keep);
  }
}

/** Wakes up to `count` waiters on view[index]. */
export function wake(view: Int32Array, index: number, count = Infinity): void {
  if (isRegion(view.buffer)) return futexWake(view, index, count);
  Atomics.notify(view, index, count === Infinity ? undefined : count);
}

/** What a wait loop asks for: sleep while view[index] === expected, until the deadline. */
export interface WaitRequest {
  view: Int32Array;
  index: number;
  expected: number;
  deadline: number;
}

/** A wait loop written once: it yields what to wait on and is told whether it woke (true) or ran out of time (false). */
export type WaitSteps<T> = Generator<WaitRequest, T, boolean>;

/** Runs wait steps blocking this thread (the *Sync forms). */
export function runSync<T>(steps: WaitSteps<T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next(waitSync(r.value.view, r.value.index, r.value.expected, r.value.deadline));
  return r.value;
}

/** Runs wait steps with the event loop free (the Promise forms). */
export async function runAsync<T>(steps: WaitSteps<T>): Promise<T> {
  let r = steps.next();
  while (!r.done) r = steps.next(await waitAsync(r.value.view, r.value.index, r.value.expected, r.value.deadline));
  return r.value;
}
