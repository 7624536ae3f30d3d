/**
 * What one thread can know of another's life, without either's event loop: a table in
 * shared memory that every concur thread of a process sees.
 *
 *   spawner                          table (SharedArrayBuffer)           the worker
 *   new Worker ─► registerThread ─►  [tid, state] at tid % ENTRIES  ◄─── enterInternal / leaveInternal
 *   stop:  STOPPING, wait for IN_CS to clear, then worker.terminate()     (around internal locks)
 *   'exit' ─► markThreadDead                                        ◄─── any thread: isThreadGone(tid)
 *
 * Two uses:
 * - A worker is never terminated inside one of concur's own critical sections (the
 *   SharedQueue's internal locks): it marks itself IN_CS around them, and the thread
 *   that stops it sets STOPPING and waits for IN_CS to clear before terminating it.
 *   Both are one atomic read-modify-write on the same word, so either the worker sees
 *   STOPPING and does not enter, or the stopper sees IN_CS and waits the few
 *   microseconds the section lasts. An internal lock is thus never left held.
 * - A primitive that records who holds it (a Lock's owner, a Condition waiter's slot)
 *   asks isThreadGone(holder): true from the moment the thread is being stopped, so
 *   nothing waits on a thread that will never act again.
 *
 * The table is created by the first concur thread of a process and handed to every
 * thread concur starts (in workerData). Threads are found by threadId, which Node
 * never reuses within a process; an entry is reused (tid + k * ENTRIES) only once its
 * thread is dead, so an entry holding a newer tid means the older one is gone, for a tid
 * no lower than the first the entry held (FIRST_TIDS). A thread concur did not start (a
 * user's own Worker, the main thread) has no entry: it is never reported gone, even once
 * a thread started later lands on the entry its tid would have had.
 */
import { isMainThread, threadId, workerData } from 'node:worker_threads';

const ENTRIES = 1 << 16;
/** The worker holds one of concur's internal locks. */
const IN_CS = 1;
/** Someone is stopping the thread: it will not act again. */
const STOPPING = 2;
/** The thread has exited. */
const DEAD = 4;
/** After the [tid, state] pairs: per entry, the first tid it held (the ones below it were never there). */
const FIRST_TIDS = ENTRIES * 2;

/** The key under which a thread finds the table in its workerData. */
export const LIFE_TABLE_KEY = '$concurLifeTable';

function adopt(): Int32Array {
  const given = !isMainThread && workerData !== null && typeof workerData === 'object' ? (workerData as Record<string, unknown>)[LIFE_TABLE_KEY] : undefined;
  return new Int32Array(given instanceof SharedArrayBuffer ? given : new SharedArrayBuffer(ENTRIES * 12));
}

let table: Int32Array | undefined;
function lifeTable(): Int32Array {
  return (table ??= adopt());
}

/** This thread's state word in the table, or -1 when it has none (the main thread never has one). */
let myState = isMainThread ? -1 : undefined;
function myWord(): number {
  if (myState !== undefined) return myState;
  const e = (threadId % ENTRIES) * 2;
  // Not cached until found: the spawner registers a thread just after it was created.
  if (Atomics.load(lifeTable(), e) !== threadId) return -1;
  return (myState = e + 1);
}
let depth = 0;

/** The table, for the workerData of a thread about to start. */
export function lifeTableBuffer(): SharedArrayBuffer {
  return lifeTable().buffer as SharedArrayBuffer;
}

/** Records a thread just created (its threadId) so that it can be stopped safely and asked after. */
export function registerThread(tid: number): void {
  const t = lifeTable();
  const e = (tid % ENTRIES) * 2;
  const old = Atomics.load(t, e);
  // Reuse an entry only once its thread is gone; otherwise the newcomer goes untracked.
  if (old !== 0 && (Atomics.load(t, e + 1) & DEAD) === 0) return;
  if (old === 0) Atomics.store(t, FIRST_TIDS + (tid % ENTRIES), tid);
  Atomics.store(t, e + 1, 0);
  Atomics.store(t, e, tid);
}

/**
 * Marks a thread as being stopped and waits until it has left concur's internal
 * critical sections; call it right before `worker.terminate()`.
 */
export function stopThread(tid: number): void {
  const t = lifeTable();
  const e = (tid % ENTRIES) * 2;
  if (Atomics.load(t, e) !== tid) return;
  let state = Atomics.or(t, e + 1, STOPPING) | STOPPING;
  // The section copies one record: microseconds. The slice only bounds a lost wake-up.
  while ((state & IN_CS) !== 0) {
    Atomics.wait(t, e + 1, state, 5);
    state = Atomics.load(t, e + 1);
  }
}

/** Marks a thread as exited (from its 'exit' event). */
export function markThreadDead(tid: number): void {
  const t = lifeTable();
  const e = (tid % ENTRIES) * 2;
  if (Atomics.load(t, e) === tid) Atomics.or(t, e + 1, STOPPING | DEAD);
}

/** True when the entry of `tid` holds a later thread `held` that replaced it: `tid` was there, and is dead. */
function replaced(t: Int32Array, held: number, tid: number): boolean {
  return held > tid && held % ENTRIES === tid % ENTRIES && tid >= Atomics.load(t, FIRST_TIDS + (tid % ENTRIES));
}

/** True once the thread `tid` is being stopped or has exited; false for a live or unknown one. */
export function isThreadGone(tid: number): boolean {
  const t = lifeTable();
  const e = (tid % ENTRIES) * 2;
  const held = Atomics.load(t, e);
  if (held === tid) return (Atomics.load(t, e + 1) & (STOPPING | DEAD)) !== 0;
  return replaced(t, held, tid);
}

/** True once the thread `tid` has exited (its spawner saw it end); false while it runs or is still being stopped. */
export function isThreadDead(tid: number): boolean {
  const t = lifeTable();
  const e = (tid % ENTRIES) * 2;
  const held = Atomics.load(t, e);
  if (held === tid) return (Atomics.load(t, e + 1) & DEAD) !== 0;
  return replaced(t, held, tid);
}

/**
 * Enters one of concur's internal critical sections (nestable). A thread that is being
 * stopped does not enter: it parks until the termination that is under way ends it.
 */
export function enterInternal(): void {
  if (depth++ > 0) return;
  const w = myWord();
  if (w < 0) return;
  const t = lifeTable();
  if ((Atomics.or(t, w, IN_CS) & STOPPING) !== 0) {
    leaveWord(t, w);
    // terminate() interrupts Atomics.wait; nothing else ever wakes this.
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
}

/** Leaves the section `enterInternal` entered. */
export function leaveInternal(): void {
  if (--depth > 0) return;
  const w = myWord();
  if (w >= 0) leaveWord(lifeTable(), w);
}

function leaveWord(t: Int32Array, w: number): void {
  if ((Atomics.and(t, w, ~IN_CS) & STOPPING) !== 0) Atomics.notify(t, w);
}
