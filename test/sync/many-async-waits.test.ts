// Many coroutines of one thread awaiting primitives at once, each on its own word
// (Events, Condition waiter slots). With the native part each such wait is a futex wait
// on one of concur's waiter threads, which sleep on up to 127 words each (futex_waitv);
// they once slept on one word each, at most 32 threads, and the rest queued: a program
// exited with waits pending, a set() was seen seconds late, a wait(timeout) overran.
//
// The in-process cases below run with sleeps of ten minutes rather than 250 ms slices
// (CONCUR_TEST_SLICE_MS, read as src/ loads): a wait then ends only when it is woken or
// its own deadline passes, so a wait queued behind the others, or a wake-up lost, hangs
// the case until its timeout instead of costing a delay a loaded machine also causes.
// Nothing here times how long a wait took.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

process.env.CONCUR_TEST_SLICE_MS = String(10 * 60_000);
const { Condition, Event } = await import('../../src/index.js');
// The programs the first cases start keep the usual slices.
delete process.env.CONCUR_TEST_SLICE_MS;
const { LIMIT, runProgram } = await import('../fixtures/run-program.js');

/** Holds the event loop open, so the in-process cases measure what they ask and do not end with the loop (the first case's bug). */
function keepAlive(): () => void {
  const timer = setInterval(() => {}, 1000);
  return () => clearInterval(timer);
}

describe('many async waits in one thread', () => {
  for (const waitv of ['1', '0']) {
    it(`a program awaiting 200 Events with wait(2000) ends after every wait has returned (not with waits pending)${waitv === '0' ? ', one word per waiter thread (a kernel without futex_waitv)' : ''}`, async () => {
      const before = process.env.CONCUR_FUTEX_WAITV;
      process.env.CONCUR_FUTEX_WAITV = waitv;
      let r;
      try {
        r = await runProgram('./many-async-waits.ts', ['200', '2000'], LIMIT);
      } finally {
        if (before === undefined) delete process.env.CONCUR_FUTEX_WAITV;
        else process.env.CONCUR_FUTEX_WAITV = before;
      }
      // Once: "exit 0: 128/200 waits returned", exit code 13 (top-level await never settled).
      assert.match(r.stdout, /all returned, 0 true/, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.equal(r.code, 0, r.stdout);
    });
  }

  it('a set() is seen while 300 other coroutines wait on other Events (its wait is not queued behind theirs)', { timeout: 60_000 }, async () => {
    const release = keepAlive();
    try {
      const others = Array.from({ length: 300 }, () => new Event());
      // No timeout: these sleep until set. A wait queued behind them would never begin,
      // and the set() below, its wake-up spent on nobody, would never be seen.
      const waits = others.map((e) => e.wait());
      const target = new Event();
      const seen = target.wait();
      target.set();
      // Once 1 to 2.5 s late, at the end of other waits' slices; with no slices, never.
      assert.equal(await seen, true);
      for (const e of others) e.set();
      assert.deepEqual(new Set(await Promise.all(waits)), new Set([true]));
    } finally {
      release();
    }
  });

  it('wait(1000) returns by its own deadline while 300 other coroutines wait on other Events, not when theirs end', { timeout: 60_000 }, async () => {
    const release = keepAlive();
    try {
      const others = Array.from({ length: 300 }, () => new Event());
      const waits = others.map((e) => e.wait());
      // Once ~3 s for 300 wait(1000)s, queued behind each other's slices; behind waits
      // with no timeout and no slices, a queued wait(1000) would never return.
      const timed = await Promise.all(Array.from({ length: 30 }, () => new Event().wait(1000)));
      assert.deepEqual(new Set(timed), new Set([false]));
      for (const e of others) e.set();
      assert.deepEqual(new Set(await Promise.all(waits)), new Set([true]));
    } finally {
      release();
    }
  });

  it('100 coroutines each take a Condition\'s lock and wait: every lock hand-off is a wake-up, none waits out a slice', { timeout: 60_000 }, async () => {
    const release = keepAlive();
    try {
      const cond = new Condition();
      let waiting = 0;
      let allWaiting!: () => void;
      const everyone = new Promise<void>((resolve) => (allWaiting = resolve));
      const all = Array.from({ length: 100 }, async () => {
        await cond.acquire();
        if (++waiting === 100) allWaiting();
        await cond.wait(); // releases the lock: the next coroutine's acquire must be woken
        cond.release();
      });
      // Once 18 s (each hand-off waited behind the others' slices); with no slices, never.
      await everyone;
      await cond.acquire();
      cond.notifyAll();
      cond.release();
      await Promise.all(all);
    } finally {
      release();
    }
  });
});
