/**
 * A Condition shared with child processes that take tickets under it (waiting while
 * there are none), SIGKILLed at random, most often inside wait() or while holding the
 * lock. What must hold: one holder of the lock at a time (from the log's order); the
 * owner can always take its own lock (a child killed inside wait() must not end up
 * owning it); tickets are not lost beyond one in a dead hand; notify(n) with n live
 * waiters asleep and nobody else about wakes them (it does not go to a dead one); no
 * wait lasts for ever.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, Lock, Value } from '../../src/index.js';
import { eventually, pause, Rng, runFor, STALL_MS, STARTUP_MS, TEST_TIMEOUT, torture, TORTURE_MS, waitUntil, Watchdog } from './harness.js';
import { ProcessLog } from './process-log.js';
import { Crew, type Member } from './process-crew.js';
import { processTasks, type ConditionPlan } from './fixtures/process-tasks.js';

const MAIN = 9999;

async function conditionRound(rng: Rng, note: (s: string) => void): Promise<{ kills: number; taken: number; probed: boolean }> {
  const withLock = rng.chance(0.5);
  const cond = new Condition(withLock ? new Lock() : undefined);
  const tickets = new Value('i32', 0);
  const plan: ConditionPlan = { timedP: rng.pick([0, 0, 0.5]), asyncP: rng.pick([0, 0.5, 1]) };
  const params = { lock: withLock ? 'Lock' : 'RLock', plan, processes: 2, poolTasks: rng.pick([0, 1]), runMs: rng.int(Math.max(1500, TORTURE_MS / 8), Math.max(4000, TORTURE_MS / 2)), gapMs: rng.pick([50, 300]) };
  note(JSON.stringify(params));
  const log = new ProcessLog();
  const crew = new Crew(log, params.poolTasks, () => scan(), params.runMs + STALL_MS * 8);
  let holder: number | undefined;
  let violation: string | undefined;
  let took = 0;
  let produced = 0;
  const killed = new Set<number>();
  const last = new Map<number, { code: string; n: number }>();
  const scan = (): void => {
    for (const l of log.poll()) {
      crew.see(l.slot, l.code, l.n);
      if (l.code === 'K') {
        killed.add(l.slot);
        continue;
      }
      last.set(l.slot, { code: l.code, n: l.n });
      if (l.code === 'A' || l.code === 'W') {
        if (holder !== undefined && !killed.has(holder)) violation ??= `slot ${l.slot} holds the condition's lock (${l.code}) while slot ${holder}, alive, holds it`;
        holder = l.slot;
      } else if (l.code === 'R' || l.code === 'w') {
        if (holder !== l.slot) violation ??= `slot ${l.slot} gives up (${l.code}) a lock that slot ${holder} holds`;
        holder = undefined;
      } else if (l.code === 'T') took++;
    }
  };
  const waiting = (m: Member): boolean => last.get(m.slot)?.code === 'w';
  const state = (): unknown => ({
    params,
    tickets: tickets.value,
    produced,
    took,
    holder,
    holderKilled: holder !== undefined && killed.has(holder),
    kills: crew.kills,
    members: crew.describe().map((d, i) => ({ ...(d as object), last: last.get(i) })),
    lastLines: log.tail(),
  });
  const start = (how: 'process' | 'pool'): Member => {
    const args = (slot: number): Parameters<typeof processTasks.ticketTaker> => [cond, tickets, log.path, slot, rng.fork(), plan];
    return how === 'process' ? crew.process('taker', processTasks.ticketTaker, args) : crew.poolTask('taker', processTasks.ticketTaker, args);
  };
  let dog: Watchdog | undefined;
  const guard = <T>(x: Promise<T>): Promise<T> => (dog === undefined ? x : dog.guard(x));
  /** The owner takes its own lock (never waiting on a dead process), runs `body`, releases. */
  const underLock = async (body: () => void): Promise<void> => {
    // Awaited directly, not through guard(): an RLock belongs to the coroutine whose own
    // await receives acquire()'s promise (a Promise.race would take the holding with it).
    // The acquire's timeout bounds it.
    const got = await cond.acquire({ timeout: STALL_MS / 2 });
    scan();
    if (!got) throw new Error(`the owner could not acquire its own condition's lock within ${STALL_MS / 2} ms\nstate: ${JSON.stringify(state(), null, 1)}`);
    log.write(MAIN, 'A');
    try {
      body();
    } finally {
      log.write(MAIN, 'R');
      cond.release();
    }
  };
  const give = (k: number, all: boolean): void => {
    tickets.value = (tickets.value as number) + k;
    produced += k;
    if (all) cond.notifyAll();
    else cond.notify(k);
  };
  let probed = false;
  try {
    for (let i = 0; i < params.processes; i++) start('process');
    for (let i = 0; i < params.poolTasks; i++) start('pool');
    await underLock(() => give(params.processes, true));
    await waitUntil(() => (scan(), crew.allStarted() && took > 0), STARTUP_MS, 'every child starting', state);
    dog = new Watchdog({
      what: `Condition (${params.lock}) across processes`,
      progress: () => (scan(), log.lines.length),
      state,
      check: () => (scan(), violation ?? crew.slowStart(STARTUP_MS)),
      starting: () => crew.starting(),
      suspicions: [
        {
          what: 'tickets are left while every live taker sleeps in a wait with no timeout',
          holds: () => (tickets.value as number) > 0 && crew.live().length > 0 && crew.live().every((m) => waiting(m) && last.get(m.slot)!.n === 1),
          progress: () => took,
        },
      ],
    });
    const end = performance.now() + params.runMs;
    let lastKill: Member | undefined;
    while (performance.now() < end) {
      await guard(pause(rng.int(0, 2 * params.gapMs)));
      scan();
      if (rng.chance(0.5)) {
        await underLock(() => give(rng.int(1, 3), rng.chance(0.3)));
        continue;
      }
      // Most often wait for a child inside wait() (or holding the lock), a moment at most, and kill it there.
      const r = rng.next();
      const where = (m: Member): boolean => crew.killable(m) && (r < 0.5 ? waiting(m) : r < 0.7 ? m.slot === holder : true);
      if (r < 0.7) await guard(eventually(() => (scan(), crew.members.some(where)), 1000));
      const victims = crew.members.filter(where);
      if (victims.length === 0) continue;
      const v = rng.pick(victims);
      crew.kill(v);
      lastKill = v;
      start(v.kind);
    }
    // Drain: the live takers take what is left, notified again now and then: a notify
    // that reached a waiter just before it was killed is gone, as in Python.
    // A stall fails, not slowness: at load 60 a taker's round trip can take a second.
    let drainEnd = performance.now() + STALL_MS * 2;
    for (scan(); (tickets.value as number) > 0 && crew.live().length > 0; scan()) {
      if (performance.now() > drainEnd) throw new Error(`the takers took no ticket for ${STALL_MS * 2} ms\nstate: ${JSON.stringify(state(), null, 1)}`);
      await underLock(() => cond.notify(tickets.value as number));
      const before = took;
      await waitUntil(() => (scan(), took > before || (tickets.value as number) === 0), 500, 'a ticket taken', state).catch(() => {});
      if (took > before) drainEnd = performance.now() + STALL_MS * 2;
    }
    // The probe: with every live taker asleep in wait() and nobody else about, notify(n)
    // must wake n of them; a notify that goes to a killed waiter leaves a live one asleep.
    // The broker learns of a death from its socket closing: give it a moment past the last.
    if (lastKill !== undefined) await guard(lastKill.ended);
    await guard(pause(1000));
    for (let attempt = 0; attempt < 20 && !probed; attempt++) {
      let n = 0;
      const before = took;
      await underLock(() => {
        const live = crew.live();
        if (live.length > 0 && (tickets.value as number) === 0 && live.every((m) => waiting(m) && last.get(m.slot)!.n === 1)) {
          n = live.length;
          give(n, false);
        }
      });
      if (n > 0) {
        probed = true;
        await waitUntil(
          () => (scan(), took >= before + n),
          STALL_MS / 2,
          `notify(${n}) with ${n} live takers asleep in wait() waking all of them (a notify that went to a killed waiter leaves one asleep)`,
          state,
        );
      } else await guard(pause(100));
    }
    // Every taker dies, some inside wait() and some holding the lock: it must come back.
    await crew.killAll(STARTUP_MS, guard);
    scan();
    await underLock(() => {});
    scan();
    dog.assertQuiet();
    assert.equal(violation, undefined, violation);
    crew.assertNoFailure();
    await crew.close(true);
    // Tickets: every one taken and logged, still there, or in the hand of a taker killed holding the lock.
    const inHand = crew.members.filter((m) => m.killed && ['A', 'W'].includes(last.get(m.slot)?.code ?? '')).length;
    const gone = produced - took - (tickets.value as number);
    assert.ok(gone >= 0 && gone <= inHand, `${produced} tickets given, ${took} taken, ${tickets.value} left: ${gone} unaccounted for, only ${inHand} takers were killed holding the lock\nstate: ${JSON.stringify(state(), null, 1)}`);
    return { kills: crew.kills, taken: took, probed };
  } finally {
    dog?.stop();
    await crew.killAll(STARTUP_MS).catch(() => {});
    await crew.close(false).catch(() => {});
    log.close();
  }
}

describe('torture: Condition across processes', () => {
  it(
    'ticket takers SIGKILLed inside wait() and while holding the lock: the lock comes back, notify reaches live waiters, no ticket lost beyond a dead hand',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      let kills = 0;
      let taken = 0;
      let probes = 0;
      const rounds = await runFor(TORTURE_MS, async (round) => {
        note(`round ${round}`);
        const r = await conditionRound(rng, note);
        kills += r.kills;
        taken += r.taken;
        if (r.probed) probes++;
      });
      report(`${rounds} rounds, ${kills} children killed, ${taken} tickets taken, ${probes} notify probes`);
    }),
  );
});
