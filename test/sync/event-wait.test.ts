import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, Thread } from '../../src/index.js';
import type { WaitSteps } from '../../src/sync/waiting.js';
import { regressionTasks } from '../fixtures/sync-torture-tasks.js';
import { delay, ints, joinAll, watch } from './harness.js';

/**
 * Runs `fn` (and waits for what it returns) with Atomics.load patched so that, right
 * after the `k`-th load of a word of `e`'s state, `e.set()` runs: a set landing between
 * two steps of a wait, at each step in turn. Says whether a load k happened at all, and
 * lists the sleeps `e`'s wait asked for after the set landed on a word that still held
 * what the sleep expected: such a sleep would not see the set, whose wake was already
 * spent, and would end only with its slice (250 ms) or the timeout. That is what a
 * missed set looks like, told apart from a slow machine without timing anything.
 */
async function setAfterLoad<T>(e: Event, k: number, fn: () => T): Promise<{ result: Awaited<T>; landed: boolean; landedAt: number; blind: string[] }> {
  const load = Atomics.load;
  let seen = 0;
  let landed = false;
  let landedAt = 0;
  const blind: string[] = [];
  const steps = e._waitSteps;
  // wait() and waitSync() drive this._waitSteps: watched here on the way to their drivers.
  e._waitSteps = function* (timeout): WaitSteps<boolean> {
    const inner = steps.call(e, timeout);
    for (let r = inner.next(); ; ) {
      if (r.done) return r.value;
      const { view, index, expected } = r.value;
      if (landed && load(view, index) === expected) blind.push(`a sleep on word ${index} while it still held ${expected}`);
      r = inner.next(yield r.value);
    }
  };
  (Atomics as { load: typeof Atomics.load }).load = ((view: Int32Array, index: number) => {
    const v = load(view, index);
    if (view === e._state && ++seen === k) {
      landed = true;
      landedAt = performance.now();
      e.set();
    }
    return v;
  }) as typeof Atomics.load;
  try {
    const result = await fn();
    return { result, landed, landedAt, blind };
  } finally {
    (Atomics as { load: typeof Atomics.load }).load = load;
  }
}

describe('Event (issue 10, item 1)', () => {
  it('a set that lands between any two steps of a wait ends the wait within a slice (each step in turn, blocking and async)', async () => {
    for (const form of ['waitSync', 'wait'] as const) {
      for (let k = 1; ; k++) {
        const e = new Event();
        const deadline = performance.now() + 600;
        const { result, landed, landedAt, blind } = await setAfterLoad(e, k, () => (form === 'wait' ? e.wait(600) : e.waitSync(600)));
        if (!landed) break;
        // A set after the time ran out may come too late for the answer, as in Python.
        if (landedAt >= deadline) continue;
        assert.equal(result, true, `${form}: a set after load ${k} was missed`);
        // A set between two loads is seen at once: any sleep that follows is on a word the
        // set moved, and returns at once. (How long that took is the machine's business.)
        assert.deepEqual(blind, [], `${form}: after a set at load ${k}, the wait slept as if it had not happened`);
      }
    }
  });

  it('waitSync never sleeps on while the flag is set: pairs of threads ping-pong with two Events and no timeouts', async () => {
    const pairs = 3;
    const runMs = 2500;
    const progress = ints(2 * pairs);
    const stop = ints();
    const events = Array.from({ length: pairs }, () => [new Event(), new Event()] as const);
    const threads = events.flatMap(([e1, e2], p) => [
      new Thread({ target: regressionTasks.eventPingPong, args: [e1, e2, true, progress, 2 * p, stop] }).start(),
      new Thread({ target: regressionTasks.eventPingPong, args: [e1, e2, false, progress, 2 * p + 1, stop] }).start(),
    ]);
    const finished = (async () => {
      // The run starts once every thread has made a round trip (starting them is slow on a loaded machine).
      while (progress.some((_, i) => Atomics.load(progress, i) === 0)) await delay(20);
      await delay(runMs);
    })();
    const state = (): string =>
      `round trips ${[...progress].join(',')}; isSet ${events.map(([a, b]) => `${a.isSet()}/${b.isSet()}`).join(' ')}; ` +
      `[flag, generation] ${events.map(([a, b]) => `${[...a._state]}/${[...b._state]}`).join(' ')}; alive ${threads.map((t) => t.isAlive()).join(',')}`;
    try {
      await watch('Event ping-pong', progress, finished, { stallMs: 3000, totalMs: 100_000, state });
      Atomics.store(stop, 0, 1);
      await joinAll('Event ping-pong', threads, 60_000, state);
    } finally {
      for (const t of threads) t.terminate();
    }
    console.log(`# round trips per pair: ${[...progress].filter((_, i) => i % 2 === 0).join(', ')}`);
  });
});
