/**
 * What every torture test shares: how long to run, a seeded random source whose seed is
 * printed on failure, a watchdog that fails a test with the state it found when progress
 * stops, and waits with deadlines. It imports nothing from node:test, so worker threads
 * and child processes can use its random source too.
 *
 *   CONCUR_TORTURE_MS     how long each torture test drives its primitive (default 6000)
 *   CONCUR_TORTURE_SEED   the base seed (default: random, printed on failure)
 *   CONCUR_TORTURE_STALL_MS  how long nothing may move before the watchdog fails a test
 *                          (default 15000: this 2-core machine under a CPU hog can leave a
 *                          thread off the CPU for seconds, never for this long)
 */

/** How long each torture test runs its rounds, in ms. */
export const TORTURE_MS = positive('CONCUR_TORTURE_MS', 6000);
/** How long nothing may move before the watchdog calls it a hang, in ms. */
export const STALL_MS = positive('CONCUR_TORTURE_STALL_MS', 15_000);
/** The base seed of this run; each test derives its own from it and its name. */
export const BASE_SEED = process.env.CONCUR_TORTURE_SEED !== undefined ? Number(process.env.CONCUR_TORTURE_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
/**
 * How long starting a round's threads or child processes may take, in ms: a node
 * process (tsx, the task module, its proxy helper thread) takes a second on an idle
 * machine and tens of seconds on one with a run queue of 30.
 */
export const STARTUP_MS = STALL_MS * 8;
/**
 * The node:test timeout of a torture test: its run, plus room for the setup (spawning
 * threads and processes takes seconds on a loaded machine) and for a watchdog to speak
 * first, so that a hang fails with the watchdog's state rather than a bare timeout.
 */
export const TEST_TIMEOUT = TORTURE_MS * 2 + STARTUP_MS + STALL_MS * 3 + 60_000;

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number of ms, got ${JSON.stringify(raw)}`);
  return n;
}

/** A small seeded random source (mulberry32): the same seed gives the same choices. */
export class Rng {
  #s: number;
  constructor(readonly seed: number) {
    this.#s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** A new seed drawn from this source, for a thread, a process or a round. */
  fork(): number {
    return (this.next() * 2 ** 32) >>> 0;
  }
}

/** A seed mixed from a base and a name (FNV-1a), so each test has its own stream. */
export function seedFor(base: number, name: string): number {
  let h = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** What a torture test body is handed. */
export interface TortureContext {
  /** The test's random source (seeded from BASE_SEED and the test's name). */
  readonly rng: Rng;
  /** Notes that end up in the failure message (the round, its parameters). */
  note(text: string): void;
  /** A line for the test's report (node:test diagnostics), failed or not: rounds run, kills made. */
  report(text: string): void;
}

/**
 * Wraps a node:test body: gives it a seeded Rng, and on failure adds the seed, the way
 * to replay it and the test's last notes to the error. Thread scheduling is not
 * reproducible, but the operation mixes, parameters and kill schedule are.
 */
export function torture(body: (ctx: TortureContext) => Promise<void>): (t: { name: string; diagnostic(message: string): void }) => Promise<void> {
  return async (t) => {
    const seed = seedFor(BASE_SEED, t.name);
    const notes: string[] = [];
    const ctx: TortureContext = {
      rng: new Rng(seed),
      note: (text) => {
        notes.push(text);
        if (notes.length > 8) notes.shift();
      },
      report: (text) => t.diagnostic(text),
    };
    try {
      await body(ctx);
    } catch (err) {
      const replay = `torture seed ${BASE_SEED} (test seed ${seed}); replay with CONCUR_TORTURE_SEED=${BASE_SEED} node scripts/torture.mjs --rounds 1 --test-ms ${TORTURE_MS} --files <this file>`;
      const where = notes.length > 0 ? `\nlast notes:\n  ${notes.join('\n  ')}` : '';
      if (err instanceof Error) {
        err.message = `${err.message}\n[${replay}]${where}`;
        throw err;
      }
      throw new Error(`${String(err)}\n[${replay}]${where}`, { cause: err });
    }
  };
}

/** Runs `round` again and again until `ms` have passed (at least once); returns how many rounds ran. */
export async function runFor(ms: number, round: (index: number) => Promise<void>): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  do await round(n++);
  while (performance.now() < end);
  return n;
}

/** Something the watchdog watches: a condition that must not hold for long while its progress counter stands still. */
export interface Suspicion {
  /** What it means when it lasts, e.g. "a getter sleeps while the queue holds items". */
  what: string;
  /** True when the suspicious situation is present now. */
  holds(): boolean;
  /** A counter that moves when the situation can resolve (gets done, acquisitions, ...). */
  progress(): number;
  /** How long it may last; half the watchdog's stallMs by default (so it speaks before "nothing moved"). */
  ms?: number;
}

/** Options of a Watchdog. */
export interface WatchdogOptions {
  /** What is being watched, for the message. */
  what: string;
  /** A counter that moves whenever anything is done. */
  progress(): number;
  /** The state to print when it fails (anything JSON can show). */
  state(): unknown;
  /** Checked at every sample: a message when an invariant is broken now. */
  check?(): string | undefined;
  /** Conditions that must not last while their own counter stands still. */
  suspicions?: Suspicion[];
  /**
   * True while a thread or process is still starting: the stall clock waits meanwhile
   * (starting takes tens of seconds on a loaded machine; bound it with `check`).
   */
  starting?(): boolean;
  /** How long the progress counter may stand still. @default STALL_MS */
  stallMs?: number;
  /** Sampling period. @default 50 */
  everyMs?: number;
}

/**
 * Samples the system from the main thread's event loop (so the main thread must only
 * await while it runs) and fails when progress stops, when a suspicion lasts, or when a
 * check finds a broken invariant: `failure` then rejects with what it saw.
 */
export class Watchdog {
  /** Rejects when the watchdog finds something wrong; never resolves. */
  readonly failure: Promise<never>;
  #fail!: (err: Error) => void;
  #timer: ReturnType<typeof setInterval>;
  #failed: Error | undefined;

  constructor(readonly options: WatchdogOptions) {
    this.failure = new Promise<never>((_, reject) => (this.#fail = reject));
    this.failure.catch(() => {}); // read through guard(), or not at all
    const stallMs = options.stallMs ?? STALL_MS;
    let last = options.progress();
    let lastMoved = performance.now();
    const sus = (options.suspicions ?? []).map((s) => ({ s, since: -1, at: 0 }));
    this.#timer = setInterval(() => {
      if (this.#failed !== undefined) return;
      const now = performance.now();
      try {
        const broken = options.check?.();
        if (broken !== undefined) return this.#trip(`${options.what}: ${broken}`);
        // The specific findings first: they say more than "nothing moved".
        for (const e of sus) {
          const holds = e.s.holds();
          const p2 = e.s.progress();
          if (!holds || e.since < 0 || p2 !== e.at) {
            e.since = holds ? now : -1;
            e.at = p2;
            continue;
          }
          if (now - e.since > (e.s.ms ?? stallMs / 2)) return this.#trip(`${options.what}: ${e.s.what}, for ${Math.round(now - e.since)} ms with no progress (counter ${p2})`);
        }
        const p = options.progress();
        if (p !== last || options.starting?.() === true) {
          last = p;
          lastMoved = now;
        } else if (now - lastMoved > stallMs) {
          return this.#trip(`${options.what}: nothing moved for ${Math.round(now - lastMoved)} ms (progress counter stuck at ${p})`);
        }
      } catch (err) {
        this.#trip(`${options.what}: the watchdog's own probe threw: ${(err as Error).stack ?? String(err)}`);
      }
    }, options.everyMs ?? 50);
    // The test's own awaits keep the loop alive; a watchdog alone must not.
    this.#timer.unref();
  }

  #trip(message: string): void {
    let state: string;
    try {
      state = JSON.stringify(this.options.state(), null, 1);
    } catch (err) {
      state = `(the state could not be read: ${(err as Error).message})`;
    }
    this.#failed = new Error(`${message}\nstate: ${state}`);
    clearInterval(this.#timer);
    this.#fail(this.#failed);
  }

  /** Waits for `p`, failing instead if the watchdog trips first. */
  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.failure]);
  }

  /** Throws now if the watchdog has tripped. */
  assertQuiet(): void {
    if (this.#failed !== undefined) throw this.#failed;
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Waits for `p` at most `ms`; past that fails with `what` and the state (if given). */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string, state?: () => unknown): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms${describeState(state)}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` (every few ms) until it is true; past `ms` fails with `what` and the state. */
export async function waitUntil(condition: () => boolean, ms: number, what: string, state?: () => unknown): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms${describeState(state)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Polls `condition` until it is true (true) or `ms` have passed (false): for "wait for a chance, if one comes". */
export async function eventually(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (condition()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Waits (Atomics.waitAsync, the event loop free) until view[index] >= value; past `ms` fails with `what`. */
export async function waitForCount(view: Int32Array, index: number, value: number, ms: number, what: string, state?: () => unknown): Promise<void> {
  const deadline = performance.now() + ms;
  for (let seen = Atomics.load(view, index); seen < value; seen = Atomics.load(view, index)) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`${what} did not happen within ${ms} ms (at ${seen} of ${value})${describeState(state)}`);
    const r = Atomics.waitAsync(view, index, seen, Math.min(left, 100));
    // A pending waitAsync does not hold the event loop open: a timer does.
    if (r.async) {
      const keep = setTimeout(() => {}, 200);
      await r.value;
      clearTimeout(keep);
    }
  }
}

/** Resolves after `ms` (for spacing out kills; never to wait for an event). */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function describeState(state: (() => unknown) | undefined): string {
  if (state === undefined) return '';
  try {
    return `\nstate: ${JSON.stringify(state(), null, 1)}`;
  } catch (err) {
    return `\n(the state could not be read: ${(err as Error).message})`;
  }
}
