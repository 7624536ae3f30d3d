/**
 * One round of the SharedQueue torture, from the main thread: start more threads than
 * the queue has room for (Threads and thread-pool tasks; producers, consumers, mixed,
 * joiners, and spinners that never block so are often inside the queue's internal
 * locks), terminate some of them at
 * random points (Thread.terminate() and pool task timeouts), shut the queue down at a
 * random moment, then account for every item from the log the workers kept in shared
 * memory (see fixtures/queue-tasks.ts).
 *
 * The accounting is exact but for what a terminated worker had in hand:
 * - an item is never taken twice, and never taken unless it was put;
 * - an item whose put returned is taken, unless a worker was terminated between a get
 *   returning it and the log (at most one per worker terminated in GETTING), or it was
 *   dropped by an immediate shutdown;
 * - an item taken whose put never returned belongs to a worker terminated in PUTTING;
 * - the queue's unfinished count is what those in-hand items explain, and join()
 *   returns once they are marked done; one more taskDone() throws.
 * While the round runs, a watchdog fails it when nothing moves, when a getter without a
 * timeout sleeps while the queue holds items, when a putter sleeps while the queue is
 * empty, or when a joiner sleeps while nothing is unfinished.
 */
import assert from 'node:assert/strict';
import { SharedLifoQueue, SharedPriorityQueue, SharedQueue, Thread, ThreadPoolExecutor, type Future } from '../../src/index.js';
import { pause, Rng, STALL_MS, STARTUP_MS, Watchdog, waitUntil, withDeadline } from './harness.js';
import {
  CONSUMER,
  G_GETS,
  G_JOINS,
  G_OPS,
  G_PUTS,
  G_STARTED,
  G_TOO_BIG,
  G_WIND_DOWN,
  GETTING,
  HOLDING,
  I_BEGUN,
  I_DONE,
  I_TAKEN,
  idOf,
  ITEM_BYTES,
  JOINER,
  JOINING,
  MIXED,
  NONE,
  newBoard,
  PER_SLOT,
  PRODUCER,
  PUTTING,
  SPINNER,
  queueTasks,
  ROLE_NAMES,
  S_ITEM,
  S_OPS,
   S_STATE,
  S_TIMED,
  SLOT_WORDS,
  SLOTS_AT,
  STATE_NAMES,
  type WorkerPlan,
} from './fixtures/queue-tasks.js';

// The queue's header words, read for the accounting (layout of src/queues/shared-queue.ts).
const H = { P_LOCK: 0, PUT_COUNT: 32, C_LOCK: 64, GET_COUNT: 96, GET_WAITERS: 128, PUT_WAITERS: 160, SHUTDOWN: 193 };

/** What a round does. */
export interface RoundParams {
  capacityBytes: number;
  maxsize: number;
  producers: number;
  consumers: number;
  mixed: number;
  joiners: number;
  spinners: number;
  /** Workers run as pool tasks rather than Threads, out of every worker. */
  poolShare: number;
  maxPad: number;
  timedP: number;
  maxTimeout: number;
  /** How long the workers run before the shutdown. */
  runMs: number;
  /** Mean gap between two Thread.terminate() calls; 0 for none. */
  killGapMs: number;
  /** Longest timeout of a pool task (they are killed at it); 0 for none. */
  poolTimeoutMs: number;
  immediate: boolean;
  /**
   * Before the shutdown, stop the puts and let the getters drain the queue: every
   * blocked put must then complete and every blocked get find its item, so a waiter
   * that sleeps for good is seen by the watchdog instead of being freed by the shutdown.
   */
  windDown: boolean;
  /** Which queue: a SharedQueue (FIFO), a SharedLifoQueue or a SharedPriorityQueue (string items only: they must order). */
  order?: 'fifo' | 'lifo' | 'priority';
}

/** Random round parameters: more threads than the queue has slots, items up to `sizeShare` of the ring. */
export function randomParams(rng: Rng, sizeShare: number, tortureMs: number): RoundParams {
  const capacityBytes = rng.pick([128, 160, 256, 512, 1024]);
  // A record is [u32 length][tag][payload]: a string item is ~20 bytes plus its padding,
  // an object ~55 plus its padding.
  const maxPad = Math.max(0, Math.floor(capacityBytes * sizeShare) - 60);
  return {
    capacityBytes,
    maxsize: rng.pick([0, 1, 2, 3, 5]),
    producers: rng.int(1, 3),
    consumers: rng.int(1, 3),
    mixed: rng.int(0, 3),
    joiners: rng.int(0, 2),
    spinners: rng.int(0, 2),
    poolShare: rng.pick([0, 0.5, 1]),
    maxPad,
    timedP: rng.pick([0, 0.3, 0.9]),
    maxTimeout: rng.pick([0, 3, 30]),
    // Longer runs get longer rounds: starting threads costs the same whatever the round's length.
    runMs: rng.int(Math.max(600, tortureMs / 10), Math.max(2000, tortureMs / 3)),
    killGapMs: rng.pick([0, 10, 30, 150]),
    poolTimeoutMs: rng.pick([0, 400, 1500]),
    immediate: rng.chance(0.3),
    windDown: rng.chance(0.5),
  };
}

interface Worker {
  slot: number;
  role: number;
  kind: 'thread' | 'pool';
  killed: boolean;
  ended: Promise<void>;
  thread?: { terminate(): void };
  future?: Future<void>;
  failure?: unknown;
  /** When it was started (performance.now()). */
  since: number;
}

/** Runs one round; throws with the state it found when an invariant breaks or progress stops. */
export async function queueRound(rng: Rng, p: RoundParams): Promise<{ kills: number; gets: number; puts: number }> {
  // Joiners last: the first poolSize of the others run as pool tasks.
  const roles = [
    ...Array<number>(p.producers).fill(PRODUCER),
    ...Array<number>(p.consumers).fill(CONSUMER),
    ...Array<number>(p.mixed).fill(MIXED),
    ...Array<number>(p.spinners).fill(SPINNER),
    ...Array<number>(p.joiners).fill(JOINER),
  ];
  const maxSlots = roles.length * 12;
  const Kind = p.order === 'lifo' ? SharedLifoQueue : p.order === 'priority' ? SharedPriorityQueue : SharedQueue;
  const q = new Kind<unknown>({ maxsize: p.maxsize, capacityBytes: p.capacityBytes });
  const { board, items } = newBoard(maxSlots);
  const h = q._header;
  const workers: Worker[] = [];
  const poolSize = Math.round((roles.length - p.joiners) * p.poolShare);
  const pool = poolSize > 0 ? new ThreadPoolExecutor({ maxWorkers: poolSize }) : undefined;
  let shut = false;
  let kills = 0;
  let stopping = false;
  /** How long the first workers took to start. */
  let bootMs: number | undefined;

  const slotWord = (slot: number, word: number): number => Atomics.load(board, SLOTS_AT + slot * SLOT_WORDS + word);
  const locksFree = (): boolean => Atomics.load(h, H.P_LOCK) === 0 && Atomics.load(h, H.C_LOCK) === 0;
  const live = (w: Worker): boolean => !w.killed;
  const anyLive = (state: number, untimed: boolean): boolean =>
    workers.some((w) => live(w) && slotWord(w.slot, S_STATE) === state && (!untimed || slotWord(w.slot, S_TIMED) === 0));
  const state = (): unknown => ({
    params: p,
    shut,
    kills,
    qsize: q.qsize(),
    header: Object.fromEntries(Object.entries(H).map(([k, i]) => [k, Atomics.load(h, i)])),
    board: { ops: board[G_OPS], gets: board[G_GETS], puts: board[G_PUTS], started: board[G_STARTED], joins: board[G_JOINS], tooBig: board[G_TOO_BIG] },
    workers: workers.map((w) => ({
      slot: w.slot,
      kind: w.kind,
      role: ROLE_NAMES[w.role],
      state: STATE_NAMES[slotWord(w.slot, S_STATE)],
      item: slotWord(w.slot, S_ITEM),
      timed: slotWord(w.slot, S_TIMED),
      ops: slotWord(w.slot, S_OPS),
      killed: w.killed,
      failure: w.failure === undefined ? undefined : String(w.failure),
    })),
  });
  const watch = (): Watchdog => new Watchdog({
    what: 'SharedQueue torture',
    progress: () => board[G_OPS]! + board[G_STARTED]! + board[G_JOINS]! + kills + workers.length,
    state,
    check: () => {
      const n = q.qsize();
      if (n < 0 || (p.maxsize > 0 && n > p.maxsize)) return `qsize() is ${n} in a queue of maxsize ${p.maxsize}`;
      const now = performance.now();
      const slow = workers.find((w) => live(w) && slotWord(w.slot, S_STATE) === NONE && now - w.since > STARTUP_MS);
      return slow === undefined ? undefined : `the worker in slot ${slow.slot} has not started within ${Math.round(now - slow.since)} ms`;
    },
    starting: () => workers.some((w) => live(w) && slotWord(w.slot, S_STATE) === NONE),
    suspicions: [
      { what: 'a getter with no timeout sleeps while the queue holds items', holds: () => q.qsize() > 0 && anyLive(GETTING, true), progress: () => board[G_GETS]! },
      { what: 'a putter with no timeout sleeps while the queue is empty', holds: () => !shut && q.qsize() === 0 && anyLive(PUTTING, true), progress: () => board[G_PUTS]! },
      { what: 'a joiner sleeps while no task is unfinished', holds: () => q._unfinished() === 0 && anyLive(JOINING, false), progress: () => board[G_JOINS]! },
    ],
  });

  const start = (role: number, kind: 'thread' | 'pool'): void => {
    if (workers.length >= maxSlots) return;
    const slot = workers.length;
    const plan: WorkerPlan = { role, maxPad: p.maxPad, timedP: p.timedP, maxTimeout: p.maxTimeout, maxsize: p.maxsize, itemKind: p.order === 'priority' ? 1 : undefined };
    const w: Worker = { slot, role, kind, killed: false, ended: Promise.resolve(), since: performance.now() };
    workers.push(w);
    const seed = rng.fork();
    if (kind === 'pool') {
      // The pool's clock starts at dispatch, the worker's start included: the first tasks
      // get none, the later ones as long as starting took, plus their random share.
      const timeout = p.poolTimeoutMs > 0 && bootMs !== undefined ? bootMs + rng.int(p.poolTimeoutMs / 4, p.poolTimeoutMs) : undefined;
      w.future = pool!.submitWith({ timeout }, queueTasks.churn, q, board, items, slot, seed, plan);
      w.ended = w.future.then(
        () => {},
        (err: unknown) => {
          if (err instanceof Error && err.name === 'TimeoutError') {
            // The pool stopped the task: its worker was terminated at a random point.
            w.killed = true;
            kills++;
            if (!stopping) start(role, 'pool');
          } else w.failure = err;
        },
      );
    } else {
      const t = new Thread({ target: queueTasks.churn, args: [q, board, items, slot, seed, plan] });
      w.thread = t.start();
      w.ended = t.join().then(() => {
        if (!w.killed && t.exitCode !== 0) w.failure = new Error(`thread in slot ${slot} exited with code ${t.exitCode}`);
      });
    }
  };
  let dog: Watchdog | undefined;
  const guard = <T>(x: Promise<T>): Promise<T> => (dog === undefined ? x : dog.guard(x));
  /** Waits until every worker that `which` selects has ended, including those started meanwhile. */
  const allEnded = async (which: (w: Worker) => boolean): Promise<void> => {
    for (let n = -1; n !== workers.length; ) {
      n = workers.length;
      await guard(Promise.all(workers.filter(which).map((w) => w.ended)));
    }
  };

  try {
    // Joiners are Threads: the pool's shutdown waits for its tasks, and a joiner waits for the accounting.
    roles.forEach((role, i) => start(role, i < poolSize && role !== JOINER ? 'pool' : 'thread'));
    // Starting threads takes seconds on a loaded machine: the watchdog starts once they run.
    const started = (): boolean => workers.every((w) => w.killed || slotWord(w.slot, S_STATE) !== NONE);
    const bootStart = performance.now();
    await waitUntil(started, STARTUP_MS, 'every worker starting', state);
    bootMs = performance.now() - bootStart;
    dog = watch();
    const runEnd = performance.now() + p.runMs;
    // Terminate Threads at random points while they churn.
    while (performance.now() < runEnd) {
      if (p.killGapMs === 0) {
        await guard(pause(runEnd - performance.now()));
        break;
      }
      await guard(pause(rng.int(0, 2 * p.killGapMs)));
      // Threads that run: one still starting is not inside any operation yet.
      const victims = workers.filter((w) => w.kind === 'thread' && live(w) && slotWord(w.slot, S_STATE) !== NONE);
      if (victims.length === 0 || performance.now() >= runEnd) continue;
      // Half the time a spinner when there is one: always busy, it is most often inside an operation.
      const spinners = victims.filter((w) => w.role === SPINNER);
      const v = spinners.length > 0 && rng.chance(0.5) ? rng.pick(spinners) : rng.pick(victims);
      v.killed = true;
      kills++;
      v.thread!.terminate();
      await guard(withDeadline(v.ended, STALL_MS, `thread in slot ${v.slot} ending after terminate()`, state));
      start(v.role, 'thread');
    }
    stopping = true;
    if (p.windDown) {
      Atomics.store(board, G_WIND_DOWN, 1);
      const busy = (): boolean =>
        workers.some((w) => live(w) && slotWord(w.slot, S_STATE) === PUTTING) ||
        (q.qsize() > 0 && workers.some((w) => live(w) && w.role !== JOINER));
      await guard(waitUntil(() => !busy(), STALL_MS * 4, 'the puts completing and the queue draining once no new put starts', state));
    }
    // shutdown() takes both internal locks, blocking this thread: a lock left held for
    // good would freeze it before the watchdog could say so. Wait for a moment they are free.
    await guard(waitUntil(locksFree, STALL_MS, "the queue's internal locks being free at some moment", state));
    shut = true;
    q.shutdown({ immediate: p.immediate });
    // Joiners wait for the tasks that terminated workers left unfinished: they end after the accounting.
    await allEnded((w) => w.role !== JOINER);
    // Its workers are gone once it has shut down: a stopped task's last state is final.
    if (pool !== undefined) await guard(withDeadline(pool.shutdown(), STALL_MS, 'the pool shutting down', state));
    for (const w of workers) if (w.failure !== undefined) throw new Error(`worker in slot ${w.slot} (${w.kind}, ${ROLE_NAMES[w.role]}) failed: ${String((w.failure as Error).stack ?? w.failure)}`);
    assert.deepEqual([Atomics.load(h, H.P_LOCK), Atomics.load(h, H.C_LOCK)], [0, 0], 'an internal lock was left held');
    // What the consumers did not take (all of them may have been terminated).
    for (;;) {
      let got: unknown;
      try {
        got = q.getNowait();
      } catch (err) {
        assert.equal((err as Error).name, 'QueueShutDown', `getNowait on a shut-down queue: ${String(err)}`);
        break;
      }
      Atomics.add(items, idOf(got) * ITEM_BYTES + I_TAKEN, 1);
      q.taskDone();
    }
    assert.equal(q.qsize(), 0);
    assert.equal(q.empty(), true);
    await account(q, p, workers, board, items, state);
    await allEnded(() => true);
    dog?.assertQuiet();
    return { kills, gets: board[G_GETS]!, puts: board[G_PUTS]! };
  } finally {
    dog?.stop();
    if (locksFree()) q.shutdown({ immediate: true }); // frees whatever a failed round left blocked
    // A failed round leaves nothing behind to disturb the next test.
    for (const w of workers) w.thread?.terminate();
    if (pool !== undefined) void pool.shutdown({ wait: false, cancelFutures: true });
  }
}

async function account(q: SharedQueue<unknown>, p: RoundParams, workers: Worker[], board: Int32Array, items: Uint8Array, state: () => unknown): Promise<void> {
  const h = q._header;
  const slotWord = (slot: number, word: number): number => Atomics.load(board, SLOTS_AT + slot * SLOT_WORDS + word);
  const killedIn = (st: number): Worker[] => workers.filter((w) => w.killed && slotWord(w.slot, S_STATE) === st);
  const killedPutting = new Set(killedIn(PUTTING).map((w) => slotWord(w.slot, S_ITEM)));
  const killedGetting = killedIn(GETTING).length;
  const killedHolding = killedIn(HOLDING).length;
  const dup: number[] = [];
  const neverPut: number[] = [];
  const ghosts: number[] = [];
  const missing: number[] = [];
  let done = 0;
  let ghostsOfKilled = 0;
  for (let id = 0; id < workers.length * PER_SLOT; id++) {
    const at = id * ITEM_BYTES;
    const begun = items[at + I_BEGUN]!;
    const put = items[at + I_DONE]!;
    const taken = items[at + I_TAKEN]!;
    if (put) done++;
    if (taken > 1) dup.push(id);
    if (taken > 0 && !begun) neverPut.push(id);
    else if (taken > 0 && !put) {
      if (killedPutting.has(id)) ghostsOfKilled++;
      else ghosts.push(id);
    }
    if (put && taken === 0) missing.push(id);
  }
  const show = (ids: number[]): string => `${ids.length} (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', ...' : ''})`;
  const why = (): string => `\nstate: ${JSON.stringify(state())}`;
  assert.equal(dup.length, 0, `items taken more than once: ${show(dup)}${why()}`);
  assert.equal(neverPut.length, 0, `items taken that were never put: ${show(neverPut)}${why()}`);
  assert.equal(ghosts.length, 0, `items taken whose put never returned, from a worker not terminated inside that put: ${show(ghosts)}${why()}`);
  // Every record written is a put that returned, or one a worker terminated inside its put made.
  const landed = Atomics.load(h, H.PUT_COUNT);
  const extra = landed - done;
  assert.ok(
    extra >= ghostsOfKilled && extra <= killedPutting.size,
    `the queue counted ${landed} puts, ${done} returned, ${ghostsOfKilled} more were made by workers terminated inside put (of ${killedPutting.size} so terminated)${why()}`,
  );
  const dropBound = p.immediate ? (p.maxsize > 0 ? p.maxsize : Math.floor(p.capacityBytes / 13)) : 0;
  assert.ok(
    missing.length <= killedGetting + dropBound,
    `items put and never taken: ${show(missing)}; only ${killedGetting} workers were terminated inside a get${p.immediate ? ` and an immediate shutdown may drop ${dropBound}` : ''}${why()}`,
  );
  // Unfinished tasks: items got and not marked done, which only a terminated worker leaves.
  const unfinished = q._unfinished();
  const lost = p.immediate ? 0 : missing.length;
  const most = (p.immediate ? killedGetting : missing.length) + killedHolding;
  assert.ok(
    unfinished >= lost && unfinished <= most,
    `unfinished tasks ${unfinished}: expected between ${lost} and ${most} (${missing.length} items lost in the hands of terminated getters, ${killedHolding} terminated before taskDone)${why()}`,
  );
  for (let i = 0; i < unfinished; i++) q.taskDone();
  await withDeadline(q.join(), STALL_MS, 'join() once every task was marked done', state);
  assert.throws(() => q.taskDone(), RangeError);
}
