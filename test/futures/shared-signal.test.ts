// One AbortSignal given to many tasks, map items or sleeps, as a program that can stop
// everything at once gives it: no "possible memory leak" warning however many share
// it, every one of them stops when it aborts, and those that settled first stop listening.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsyncExecutor, ProcessPoolExecutor, sleep, ThreadPoolExecutor, type Executor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

const MANY = 50;

/** Runs `work` and returns the MaxListenersExceededWarnings Node printed meanwhile. */
async function leakWarnings(work: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error): void => {
    if (w.name === 'MaxListenersExceededWarning') seen.push(w.message);
  };
  process.on('warning', onWarning);
  try {
    await work();
    // Node emits a warning on the next tick of the one that made it.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

const executors: Array<[string, () => Executor]> = [
  ['ThreadPoolExecutor', () => new ThreadPoolExecutor({ maxWorkers: 1 })],
  ['ProcessPoolExecutor', () => new ProcessPoolExecutor({ maxWorkers: 1 })],
  ['AsyncExecutor', () => new AsyncExecutor({ maxConcurrency: 1 })],
];

describe('one AbortSignal shared by many waits', () => {
  for (const [name, make] of executors) {
    it(`${name}: ${MANY} tasks and a map of ${MANY} items under one signal, no warning; aborting stops the rest`, { timeout: 60_000 }, async () => {
      await using ex = make();
      const ac = new AbortController();
      const warnings = await leakWarnings(async () => {
        const done = await Promise.all(Array.from({ length: MANY }, (_, i) => ex.submitWith({ signal: ac.signal }, tasks.inc, i).result()));
        assert.equal(done.length, MANY);
        const mapped: number[] = [];
        for await (const x of ex.map(tasks.inc, Array.from({ length: MANY }, (_, i) => i), { signal: ac.signal })) mapped.push(x);
        assert.equal(mapped.length, MANY);
        // Still listening only for what is unsettled: these are queued behind each other.
        const pending = Array.from({ length: MANY }, (_, i) => ex.submitWith({ signal: ac.signal }, tasks.inc, i));
        ac.abort(new Error('all stop'));
        const settled = await Promise.allSettled(pending.map((f) => f.result()));
        assert.ok(settled.some((s) => s.status === 'rejected' && /all stop/.test(String(s.reason))), 'the abort stopped the queued ones');
      });
      assert.deepEqual(warnings, []);
    });
  }

  it(`sleep: ${MANY} sleeps on one signal, no warning; all reject with its reason`, async () => {
    const ac = new AbortController();
    const warnings = await leakWarnings(async () => {
      await Promise.all(Array.from({ length: MANY }, () => sleep(1, { signal: ac.signal })));
      const sleeping = Array.from({ length: MANY }, () => sleep(60_000, { signal: ac.signal }));
      ac.abort(new Error('wake up'));
      const settled = await Promise.allSettled(sleeping);
      assert.ok(settled.every((s) => s.status === 'rejected' && /wake up/.test(String(s.reason))));
    });
    assert.deepEqual(warnings, []);
  });
});
