/**
 * One round of the SharedQueue torture across processes: producer and consumer children
 * (Processes and process-pool tasks) use the parent's queue (as memory they map where the
 * native part is loaded, the ordered queues and otherwise through proxies); the parent
 * SIGKILLs children at random points (and the pool kills tasks at their timeouts), then
 * shuts the queue down and accounts for every item from the log (see process-log.ts):
 * - no item taken twice, none taken that was never put;
 * - an item whose put returned is taken, unless a consumer was killed inside a get (one
 *   item each at most), an immediate shutdown dropped it, or (unbounded queue) its
 *   producer was killed with the item still in its outbox (puts there do not wait for
 *   the owner, as multiprocessing.Queue's feeder thread);
 * - the owner's unfinished-task count is what the items in dead hands explain: join()
 *   returns once they are marked done, and one more taskDone() throws.
 */
import assert from 'node:assert/strict';
import { SharedLifoQueue, SharedPriorityQueue, SharedQueue } from '../../src/index.js';
import { eventually, pause, Rng, runFor, STALL_MS, STARTUP_MS, torture, TORTURE_MS, waitUntil, Watchdog, withDeadline } from './harness.js';
import { ProcessLog } from './process-log.js';
import { Crew, type Member } from './process-crew.js';
import { processTasks, type ProcessQueuePlan } from './fixtures/process-tasks.js';
import { idOf } from './fixtures/queue-tasks.js';

const PER_SLOT = 1 << 16;
/** The slot of the parent's own lines. */
const MAIN = 9999;

/** What a round does. */
export interface ProcessQueueParams {
  maxsize: number;
  capacityBytes: number;
  producers: number;
  consumers: number;
  mixed: number;
  /** Workers that run as pool tasks, out of all. */
  poolTasks: number;
  maxPad: number;
  timedP: number;
  maxTimeout: number;
  asyncP: number;
  runMs: number;
  gapMs: number;
  /** Pool tasks' timeout (they are killed at it); 0 for none. */
  poolTimeoutMs: number;
  /** Which roles may be killed. */
  killProducers: boolean;
  /** Producers put this many items each and return; the shutdown waits for them. */
  quota: number;
  immediate: boolean;
  /** Which queue: a SharedQueue (FIFO), a SharedLifoQueue or a SharedPriorityQueue (string items only: they must order). */
  order?: 'fifo' | 'lifo' | 'priority';
}

const ROLE = { mixed: 0, producer: 1, consumer: 2 } as const;
type Role = keyof typeof ROLE;

export async function processQueueRound(rng: Rng, p: ProcessQueueParams): Promise<{ kills: number; taken: number; gaveUp: number }> {
  const Kind = p.order === 'lifo' ? SharedLifoQueue : p.order === 'priority' ? SharedPriorityQueue : SharedQueue;
  const q = new Kind<unknown>({ maxsize: p.maxsize, capacityBytes: p.capacityBytes });
  const log = new ProcessLog();
  const begun = new Set<number>();
  const done = new Set<number>();
  const taken = new Map<number, number>();
  const last = new Map<number, { code: string; n: number }>();
  let gets = 0;
  let puts = 0;
  /** Gets given up on an owner that answered late, by slot: the answer goes back into the queue, unless the child dies first. */
  const gaveUp = new Map<number, number>();
  /** Puts given up on an owner that answered late: each item may land once, or never. */
  const maybePut = new Set<number>();
  let shut = false;
  const scan = (): void => {
    for (const l of log.poll()) {
      crew.see(l.slot, l.code, l.n);
      if (l.code !== 'K') last.set(l.slot, { code: l.code, n: l.n });
      if (l.code === 'p' || l.code === 'q') begun.add(l.n);
      else if (l.code === 'P') {
        done.add(l.n);
        puts++;
      } else if (l.code === 'G') {
        taken.set(l.n, (taken.get(l.n) ?? 0) + 1);
        gets++;
      } else if (l.code === 'E') gaveUp.set(l.slot, (gaveUp.get(l.slot) ?? 0) + 1);
      else if (l.code === 'M') maybePut.add(l.n);
    }
  };
  const crew = new Crew(log, p.poolTasks, scan, p.runMs + STALL_MS * 8);
  const lastCode = (m: Member): string | undefined => last.get(m.slot)?.code;
  const liveIn = (...codes: string[]): boolean => crew.live().some((m) => codes.includes(lastCode(m) ?? ''));
  const state = (): unknown => ({
    params: p,
    shut,
    qsize: q.qsize(),
    unfinished: q._unfinished(),
    puts,
    gets,
    gaveUp: Object.fromEntries(gaveUp),
    kills: crew.kills,
    members: crew.describe().map((d, i) => ({ ...(d as object), last: last.get(i) })),
    lastLines: log.tail(),
  });
  let stopping = false;
  /** How long the first children took to start. */
  let bootMs: number | undefined;
  const start = (role: Role, how: 'process' | 'pool'): Member => {
    const plan = (slot: number): ProcessQueuePlan => ({
      role: ROLE[role],
      maxPad: p.maxPad,
      timedP: p.timedP,
      maxTimeout: p.maxTimeout,
      asyncP: p.asyncP,
      base: slot * PER_SLOT,
      count: p.quota > 0 ? p.quota : PER_SLOT,
      stopWhenDone: p.quota > 0,
      itemKind: p.order === 'priority' ? 1 : undefined,
    });
    const args = (slot: number): Parameters<typeof processTasks.queueChurn> => [q, log.path, slot, rng.fork(), plan(slot)];
    if (how === 'process') return crew.process(role, processTasks.queueChurn, args);
    // The pool's clock starts at dispatch, the worker's start included: the first tasks get
    // none, the later ones as long as starting took, plus their random share.
    const timeout =
      p.poolTimeoutMs > 0 && bootMs !== undefined && (role !== 'producer' || p.killProducers) ? bootMs + rng.int(p.poolTimeoutMs / 4, p.poolTimeoutMs) : undefined;
    return crew.poolTask(role, processTasks.queueChurn, args, timeout, () => {
      if (!stopping) start(role, 'pool');
    });
  };
  let dog: Watchdog | undefined;
  const guard = <T>(x: Promise<T>): Promise<T> => (dog === undefined ? x : dog.guard(x));
  try {
    const roles: Role[] = [
      ...Array<Role>(p.producers).fill('producer'),
      ...Array<Role>(p.consumers).fill('consumer'),
      ...Array<Role>(p.mixed).fill('mixed'),
    ];
    roles.forEach((role, i) => start(role, i >= roles.length - p.poolTasks ? 'pool' : 'process'));
    const bootStart = performance.now();
    await waitUntil(() => (scan(), crew.allStarted() && gets + puts > 0), STARTUP_MS, 'every child starting', state);
    bootMs = performance.now() - bootStart;
    dog = new Watchdog({
      what: `SharedQueue (maxsize ${p.maxsize}) across processes`,
      progress: () => (scan(), log.lines.length),
      state,
      check: () => {
        const n = q.qsize();
        return n < 0 || (p.maxsize > 0 && n > p.maxsize) ? `qsize() is ${n} in a queue of maxsize ${p.maxsize}` : crew.slowStart(STARTUP_MS);
      },
      starting: () => crew.starting(),
      suspicions: [
        { what: 'a getter with no timeout sleeps while the queue holds items', holds: () => q.qsize() > 0 && liveIn('h'), progress: () => gets },
        { what: 'a putter with no timeout sleeps while the queue is empty', holds: () => !shut && q.qsize() === 0 && liveIn('q'), progress: () => puts },
      ],
    });
    const end = performance.now() + p.runMs;
    while (performance.now() < end) {
      await guard(pause(rng.int(0, 2 * p.gapMs)));
      scan();
      const may = (m: Member): boolean => crew.killable(m) && (p.killProducers || m.role !== 'producer');
      // Most often wait for a child inside an operation that waits on the owner (a moment at most) and kill it there.
      const isInside = (m: Member): boolean => may(m) && ['g', 'h', 'p', 'q', 'G'].includes(lastCode(m) ?? '');
      const inside = rng.chance(0.7) && (await guard(eventually(() => (scan(), crew.members.some(isInside)), 1000)));
      const victims = crew.members.filter(inside ? isInside : may);
      if (victims.length === 0) continue;
      const v = rng.pick(victims);
      crew.kill(v);
      start(v.role as Role, v.kind);
    }
    // Producers with a quota finish it first (consumers killed by the pool's timeout are
    // replaced meanwhile: a ring full for good would stop them): what they put must have
    // landed when they end.
    if (p.quota > 0) await crew.allEnded((m) => m.role === 'producer', guard);
    stopping = true;
    scan();
    log.write(MAIN, 'Z');
    shut = true;
    q.shutdown({ immediate: p.immediate });
    await crew.allEnded(() => true, guard);
    await crew.close(true);
    scan();
    crew.assertNoFailure();
    // What no consumer took (they may all have been killed).
    const drain = (): void => {
      for (;;) {
        let got: unknown;
        try {
          got = q.getNowait();
        } catch (err) {
          assert.equal((err as Error).name, 'QueueShutDown', `getNowait on a shut-down queue: ${String(err)}`);
          return;
        }
        const id = idOf(got);
        taken.set(id, (taken.get(id) ?? 0) + 1);
        q.taskDone();
      }
    };
    drain();
    // The late answer to a get its child gave up on goes back into the queue when it comes
    // (the owner's broker may see it after the child ended): give it a moment to land.
    if (gaveUp.size > 0) await eventually(() => (drain(), [...done].every((id) => taken.has(id))), STALL_MS / 3);
    const killedIn = (...codes: string[]): Member[] => crew.members.filter((m) => m.killed && codes.includes(lastCode(m) ?? ''));
    const killedPutting = new Set(killedIn('p', 'q').map((m) => last.get(m.slot)!.n));
    const killedGetting = killedIn('g', 'h').length;
    const killedHolding = killedIn('G').length;
    // A late answer to a get its child gave up on is lost when the child dies before its helper puts it back.
    const killedGaveUp = crew.members.filter((m) => m.killed).reduce((n, m) => n + (gaveUp.get(m.slot) ?? 0), 0);
    const slotOf = (id: number): Member => crew.members[Math.floor(id / PER_SLOT)]!;
    const dup: number[] = [];
    const neverPut: number[] = [];
    const ghosts: number[] = [];
    const missing: number[] = [];
    let unsent = 0;
    for (const [id, n] of taken) {
      if (n > 1) dup.push(id);
      if (!begun.has(id)) neverPut.push(id);
      else if (!done.has(id) && !killedPutting.has(id) && !maybePut.has(id)) ghosts.push(id);
    }
    for (const id of done) {
      if (taken.has(id)) continue;
      // An unbounded queue's puts go through the producer's outbox: a killed producer loses what it had not sent.
      if (p.maxsize <= 0 && slotOf(id).killed && slotOf(id).role !== 'consumer') unsent++;
      else missing.push(id);
    }
    const show = (ids: number[]): string => `${ids.length} (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', ...' : ''})`;
    const why = (): string => `\nstate: ${JSON.stringify(state(), null, 1)}`;
    assert.equal(dup.length, 0, `items taken more than once: ${show(dup)}${why()}`);
    assert.equal(neverPut.length, 0, `items taken that were never put: ${show(neverPut)}${why()}`);
    assert.equal(ghosts.length, 0, `items taken whose put never returned, from a child not killed inside that put: ${show(ghosts)}${why()}`);
    const dropBound = p.immediate ? (p.maxsize > 0 ? p.maxsize : Math.floor(p.capacityBytes / 13)) : 0;
    assert.ok(
      missing.length <= killedGetting + killedGaveUp + dropBound,
      `items put (the put returned) and never taken: ${show(missing)}; ${killedGetting} children were killed inside a get, ${killedGaveUp} gets given up by children killed later${p.immediate ? `, an immediate shutdown may drop ${dropBound}` : ''}${why()}`,
    );
    const unfinished = q._unfinished();
    const lost = p.immediate ? 0 : missing.length;
    const most = (p.immediate ? killedGetting + killedGaveUp : missing.length) + killedHolding;
    assert.ok(
      unfinished >= lost && unfinished <= most,
      `unfinished tasks ${unfinished}: expected between ${lost} and ${most} (${missing.length} items lost in the hands of killed getters, ${killedHolding} killed before taskDone)${why()}`,
    );
    for (let i = 0; i < unfinished; i++) q.taskDone();
    await withDeadline(q.join(), STALL_MS, 'join() once every task was marked done', state);
    assert.throws(() => q.taskDone(), RangeError);
    dog.assertQuiet();
    return { kills: crew.kills, taken: gets, gaveUp: [...gaveUp.values()].reduce((a, b) => a + b, 0) };
  } finally {
    dog?.stop();
    q.shutdown({ immediate: true }); // frees whatever a failed round left blocked
    await crew.killAll(STARTUP_MS).catch(() => {});
    await crew.close(false).catch(() => {});
    log.close();
  }
}

/** Random parameters: a bounded queue with every child killable, or an unbounded one whose producers finish. */
export function randomProcessQueueParams(rng: Rng, unbounded: boolean, tortureMs: number): ProcessQueueParams {
  const capacityBytes = rng.pick([256, 512, 4096]);
  const producers = rng.int(1, 2);
  const consumers = rng.int(1, 2);
  const mixed = unbounded ? 0 : rng.int(0, 1);
  return {
    maxsize: unbounded ? 0 : rng.int(1, 3),
    capacityBytes,
    producers,
    consumers,
    mixed,
    poolTasks: rng.int(0, Math.min(2, producers + consumers + mixed - 1)),
    maxPad: Math.max(0, Math.floor(capacityBytes / 2) - 60),
    timedP: unbounded ? rng.pick([0, 0.2]) : rng.pick([0, 0.3, 0.9]),
    maxTimeout: rng.pick([0, 5, 50]),
    asyncP: rng.pick([0, 0.5, 1]),
    // Longer runs get longer rounds: starting processes costs the same whatever the round's length.
    runMs: rng.int(Math.max(1500, tortureMs / 8), Math.max(4000, tortureMs / 2)),
    gapMs: rng.pick([100, 400]),
    poolTimeoutMs: rng.pick([0, 1500]),
    killProducers: !unbounded,
    quota: unbounded ? rng.pick([200, 2000]) : 0,
    immediate: !unbounded && rng.chance(0.3),
  };
}

/** A torture test body: rounds of `params(rng)` for TORTURE_MS, reporting what was killed, taken and given up on. */
export function processQueueTorture(params: (rng: Rng) => ProcessQueueParams): ReturnType<typeof torture> {
  return torture(async ({ rng, note, report }) => {
    let kills = 0;
    let taken = 0;
    let gaveUp = 0;
    const rounds = await runFor(TORTURE_MS, async (round) => {
      const p = params(rng);
      note(`round ${round}: ${JSON.stringify(p)}`);
      const r = await processQueueRound(rng, p);
      kills += r.kills;
      taken += r.taken;
      gaveUp += r.gaveUp;
    });
    report(`${rounds} rounds, ${kills} children killed, ${taken} items taken, ${gaveUp} gets given up on a late owner`);
  });
}
