/**
 * Helpers for tests that drive blocking waits from worker threads: the main thread
 * never blocks, it watches shared counters with a deadline, so a hang fails by name
 * (with the state it found) instead of freezing the test process.
 */

/** A zeroed Int32Array over shared memory. */
export const ints = (n = 1): Int32Array => new Int32Array(new SharedArrayBuffer(4 * n));

/** Resolves after `ms`. */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (an event, not a sleep) until view[i] !== 0; false if `ms` passed first. */
export async function flagged(view: Int32Array, i = 0, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Atomics.load(view, i) === 0) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const r = Atomics.waitAsync(view, i, 0, left);
    if (r.async) {
      const keep = setTimeout(() => {}, left + 100);
      await r.value;
      clearTimeout(keep);
    }
  }
  return true;
}

/** What `watch` needs: the counters that move while things are alive, and how to describe a hang. */
export interface WatchOptions {
  /** Fail when the sum of `progress` did not change for this long. */
  stallMs: number;
  /** Fail when `finished` has not settled after this long. */
  totalMs: number;
  /** Time allowed before the first move (threads take a while to start). @default 60000 */
  startMs?: number;
  /** The state found, for the failure message. */
  state: () => string;
}

/**
 * Resolves once `finished` settles (rethrowing its error); throws, naming `what` and the
 * state, when the counters in `progress` stall or the total time runs out.
 */
export async function watch(what: string, progress: Int32Array, finished: Promise<unknown>, options: WatchOptions): Promise<void> {
  let settled = false;
  let failure: unknown;
  const done = finished.then(
    () => void (settled = true),
    (err) => {
      settled = true;
      failure = err;
    },
  );
  const sum = (): number => {
    let s = 0;
    for (let i = 0; i < progress.length; i++) s += Atomics.load(progress, i);
    return s;
  };
  const start = Date.now();
  let last = sum();
  // Until something moves, threads may still be starting: allow them startMs.
  let lastMove = start + (options.startMs ?? 60_000) - options.stallMs;
  while (!settled) {
    await Promise.race([done, delay(25)]);
    if (settled) break;
    const now = Date.now();
    const s = sum();
    if (s !== last) {
      last = s;
      lastMove = now;
    }
    if (now - lastMove > options.stallMs) throw new Error(`${what}: no progress for ${now - lastMove} ms (a wait never ended); state: ${options.state()}`);
    if (now - start > options.totalMs) throw new Error(`${what}: not done after ${now - start} ms; state: ${options.state()}`);
  }
  if (failure !== undefined) throw failure;
}

/** Something that ends: a Thread. */
interface Joinable {
  join(timeout?: number): Promise<void>;
  isAlive(): boolean;
}

/**
 * Waits for every thread to end (after the test told them to stop); throws naming
 * `what` and the state when one is still alive after `ms`. Ending a thread is slow on
 * a loaded machine, so this deadline is generous and kept apart from the stall watch.
 */
export async function joinAll(what: string, threads: Joinable[], ms: number, state: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (const t of threads) await t.join(Math.max(0, deadline - Date.now()));
  const alive = threads.map((t, i) => (t.isAlive() ? i : -1)).filter((i) => i >= 0);
  if (alive.length > 0) throw new Error(`${what}: threads ${alive.join(',')} still running ${ms} ms after they were told to stop; state: ${state()}`);
}
