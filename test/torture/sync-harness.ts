/**
 * The torture runner for the sync primitives: keeps `slots` worker threads hammering a
 * primitive (more threads than it has places), terminates them at random moments (so
 * inside operations) and starts replacements, checks invariants every tick, and a
 * watchdog fails the run with the state it found when nothing moves while a waiter
 * could go on, or when nothing moves at all.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Thread } from '../../src/index.js';
import { rng, slotWord, PROGRESS, STRIDE } from '../fixtures/sync-torture-layout.js';

export { rng };

/** Total time each torture file runs its scenarios for (a longer run sets it). */
export const TORTURE_MS = Number(process.env.CONCUR_TORTURE_MS ?? 6000);

/** One torture scenario. */
export interface Scenario {
  /** Its name, for failures. */
  what: string;
  /** Worker threads alive at once. */
  slots: number;
  /** Per-slot words (see sync-torture-layout.ts); the runner reads PROGRESS and resets a slot for a replacement. */
  words: Int32Array;
  /** Starts the thread for `slot` with a seed of its own. */
  start(slot: number, seed: number): Thread<any>;
  /** How long to run once every first thread has started. */
  runMs: number;
  /** Mean time between two terminations; none when undefined. */
  killEveryMs?: number;
  /** The slots terminated together with `slot` (default: just it), e.g. both threads of a pair. */
  killGroup?(slot: number): number[];
  /** Called right after the thread of `slot` was terminated, before its replacement starts. */
  afterKill?(slot: number): void;
  /** An invariant broken now, described; undefined while all hold. */
  check(): string | undefined;
  /**
   * A waiter that could go on now, described (the lock free, the flag up...); asked
   * when nothing moved for a while (`quietMs`: since anything moved, in ms of watch time,
   * see TICK_CAP_MS; `stalled`: slots that did not move for `stallMs`; `live`: slots
   * whose thread has started working, the only ones to look at). Undefined when every
   * waiter waits for a reason.
   */
  satisfied?(quietMs: number, stalled: number[], live: number[]): string | undefined;
  /** How long a slot must not move to count as stalled. @default SATISFIED_STALL_MS */
  stallMs?: number;
  /** Repairs done by the main thread between ticks (e.g. permits of a dead holder); `live`: slots whose thread works. */
  tick?(quietMs: number, live: number[]): void;
  /** Coroutines of the main thread taking part; they run until `running()` turns false. */
  main?(running: () => boolean): Promise<void>;
  /** Tells every thread to stop. */
  stop(): void;
  /** Lets out threads that wait with no timeout (set the event, abort the barrier...); called again and again until all ended. */
  unblock?(): void | Promise<void>;
  /** The state, for a failure. */
  state(): string;
}

/** How long nothing may move while a waiter could go on. */
export const SATISFIED_STALL_MS = 3000;
/** How long nothing may move at all. */
const STALL_MS = 20_000;
/** How long the first threads may take to start (a loaded machine is slow at it). */
const START_MS = 90_000;
/**
 * The most one tick of the watch may count, in ms. The watchdogs measure quiet time on
 * a clock that runs only while the watcher itself gets to run: when a 10 ms sleep takes
 * a second, the machine is too busy to run anyone, and that second proves nothing about
 * the threads watched. (A real hang still trips: the clock runs on, only slower.)
 */
const TICK_CAP_MS = 50;

/** What a run did. */
export interface TortureResult {
  kills: number;
  ops: number;
  seed: number;
}

/**
 * A seed for the scenario named `what`: CONCUR_TORTURE_REPLAY (a seed a failure
 * printed, for every scenario run), else one derived from CONCUR_TORTURE_SEED (a round
 * of scripts/torture.mjs), else fresh.
 */
function seedFor(what: string): number {
  const replay = process.env.CONCUR_TORTURE_REPLAY;
  if (replay !== undefined) return Number(replay) & 0x7fffffff;
  const base = process.env.CONCUR_TORTURE_SEED;
  if (base === undefined) return (Math.random() * 2 ** 31) | 0;
  let h = Number(base) >>> 0;
  for (let i = 0; i < what.length; i++) h = Math.imul(h ^ what.charCodeAt(i), 16777619) >>> 0;
  return h & 0x7fffffff;
}

/**
 * Runs a scenario; throws (naming it, with its state and seed) on a broken invariant or
 * a stall. The seed picks the threads' operations and the terminations (their timing
 * still varies); CONCUR_TORTURE_SEED replays a run of scripts/torture.mjs.
 */
export async function torture(s: Scenario, seed = seedFor(s.what)): Promise<TortureResult> {
  const rand = rng(seed);
  const threads: (Thread<any> | undefined)[] = [];
  const nextSeed = (): number => (rand() * 2 ** 31) | 0;
  const progressOf = (slot: number): number => Atomics.load(s.words, slotWord(slot, PROGRESS));
  const total = (): number => {
    let n = 0;
    for (let i = 0; i < s.slots; i++) n += progressOf(i);
    return n;
  };
  const fail = (why: string): never => {
    // The seed replays the choices (operations, terminations), not the timing.
    const replay = ` (replay: CONCUR_TORTURE_REPLAY=${seed} CONCUR_TORTURE_MS=${TORTURE_MS} node --import tsx --test --test-name-pattern '<this test>' <this file>)`;
    throw new Error(`${s.what} (seed ${seed}${replay}): ${why}; state: ${s.state()}`);
  };
  for (let i = 0; i < s.slots; i++) threads[i] = s.start(i, nextSeed());
  let running = true;
  let mainDone: Promise<void> = Promise.resolve();
  let kills = 0;
  let mainError: unknown;
  let closing = false;
  let done = 0; // progress of threads already replaced
  try {
    // Starting is timed on the watch clock too: on a machine too loaded to run the
    // watcher, it is too loaded to start threads, and neither is a hang.
    let startWatched = 0;
    let startTick = Date.now();
    let startMoved = Date.now();
    let startTotal = 0;
    while (threads.some((_, i) => progressOf(i) === 0)) {
      const broken = s.check();
      if (broken !== undefined) fail(broken);
      startWatched += Math.min(Date.now() - startTick, TICK_CAP_MS);
      startTick = Date.now();
      if (startWatched > START_MS) fail('threads did not start');
      if (total() !== startTotal) {
        startTotal = total();
        startMoved = Date.now();
      }
      s.tick?.(Date.now() - startMoved, threads.map((_, i) => i).filter((i) => progressOf(i) > 0));
      await sleep(10);
    }
    if (s.main !== undefined) {
      mainDone = s.main(() => running).catch((err: unknown) => {
        mainError = err;
      });
    }
    const end = Date.now() + s.runMs;
    let nextKill = s.killEveryMs === undefined ? Infinity : Date.now() + rand() * 2 * s.killEveryMs;
    let last = total() + done;
    // The watch clock: real time, but no tick counts for more than TICK_CAP_MS.
    let watchNow = 0;
    let lastTick = Date.now();
    let lastMove = watchNow;
    const slotLast = threads.map((_, i) => progressOf(i));
    const slotMove = threads.map(() => watchNow);
    // Slots whose thread was terminated: restarted once it has exited (a thread being
    // stopped may still write its words for a moment), and left out of the watch until
    // the new one has made progress (starting a thread takes seconds on a loaded machine).
    const restarting = new Set<number>();
    const restarts: Promise<void>[] = [];
    const live = (i: number): boolean => !restarting.has(i) && progressOf(i) > 0;
    while (Date.now() < end) {
      await sleep(10);
      const real = Date.now();
      watchNow += Math.min(real - lastTick, TICK_CAP_MS);
      lastTick = real;
      const now = watchNow;
      const broken = s.check();
      if (broken !== undefined) fail(broken);
      if (mainError !== undefined) fail(`a coroutine of the main thread failed: ${String(mainError)}`);
      const moved = total() + done;
      const liveSlots = threads.map((_, i) => i).filter(live);
      if (moved !== last || liveSlots.length === 0) {
        last = moved;
        lastMove = now;
      }
      s.tick?.(now - lastMove, liveSlots);
      const stalled: number[] = [];
      for (const i of threads.keys()) {
        const p = progressOf(i);
        if (p !== slotLast[i] || !live(i)) {
          slotLast[i] = p;
          slotMove[i] = now;
        } else if (now - slotMove[i]! > (s.stallMs ?? SATISFIED_STALL_MS)) stalled.push(i);
      }
      if (stalled.length > 0 || now - lastMove > SATISFIED_STALL_MS) {
        const why = s.satisfied?.(now - lastMove, stalled, liveSlots);
        if (why !== undefined) fail(`nothing moved for ${now - lastMove} ms of watch time (threads ${stalled.join(',') || 'none'} for longer) while ${why}`);
      }
      if (now - lastMove > STALL_MS) fail(`nothing moved for ${now - lastMove} ms of watch time`);
      // One termination at a time: the next waits until the replacement works (so someone always does).
      if (real >= nextKill && restarting.size === 0 && liveSlots.length === s.slots) {
        nextKill = real + rand() * 2 * s.killEveryMs!;
        const chosen = liveSlots[Math.floor(rand() * liveSlots.length)]!;
        const group = s.killGroup?.(chosen) ?? [chosen];
        const old = group.map((slot) => threads[slot]!);
        for (const t of old) t.terminate();
        // At once too: what the terminated thread left behind is freshest now.
        const left = s.check();
        if (left !== undefined) fail(left);
        kills += group.length;
        for (const slot of group) restarting.add(slot);
        restarts.push(
          Promise.all(old.map((t) => t.join())).then(() => {
            if (closing) return;
            for (const slot of group) {
              s.afterKill?.(slot);
              done += progressOf(slot);
              for (let w = 0; w < STRIDE; w++) Atomics.store(s.words, slotWord(slot, w), 0);
            }
            for (const slot of group) {
              threads[slot] = s.start(slot, nextSeed());
              restarting.delete(slot);
            }
          }),
        );
      }
    }
    await Promise.all(restarts);
    running = false;
    s.stop();
    const deadline = Date.now() + 60_000;
    const ended = Promise.all([mainDone, ...threads.map((t) => t!.join())]);
    let allEnded = false;
    void ended.then(() => (allEnded = true));
    while (!allEnded && Date.now() < deadline) {
      await s.unblock?.();
      await Promise.race([ended, sleep(25)]);
    }
    const alive = threads.map((t, i) => (t!.isAlive() ? i : -1)).filter((i) => i >= 0);
    if (alive.length > 0) fail(`threads ${alive.join(',')} still running 60 s after they were told to stop`);
    if (!allEnded) fail('the main thread\'s coroutines still running 60 s after they were told to stop');
    await mainDone;
    if (mainError !== undefined) fail(`a coroutine of the main thread failed: ${String(mainError)}`);
    const broken = s.check();
    if (broken !== undefined) fail(broken);
    return { kills, ops: total() + done, seed };
  } finally {
    closing = true;
    running = false;
    for (const t of threads) t?.terminate();
  }
}
