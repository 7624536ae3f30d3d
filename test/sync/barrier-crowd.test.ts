import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Barrier, Thread } from '../../src/index.js';
import { barrierActions, regressionTasks } from '../fixtures/sync-torture-tasks.js';
import { delay, ints, joinAll, watch } from './harness.js';

/**
 * Runs `threads` threads waiting on `barrier` for `runMs` (once all have started), then
 * stops them; returns how often each index came back, then the out-of-range count,
 * then the count of BrokenBarrierErrors before the stop.
 */
async function crowd(barrier: Barrier, threads: number, runMs: number): Promise<number[]> {
  const counts = ints(barrier.parties + 2);
  const progress = ints(threads);
  const stop = ints();
  const ts = Array.from({ length: threads }, (_, i) => new Thread({ target: regressionTasks.barrierHammer, args: [barrier, counts, progress, i, stop] }).start());
  const finished = (async () => {
    while (progress.some((_, i) => Atomics.load(progress, i) === 0)) await delay(20);
    await delay(runMs);
  })();
  const what = `${threads} threads on a Barrier(${barrier.parties})`;
  const state = (): string => `waits done per thread ${[...progress].join(',')}; index counts ${[...counts].join(',')}; nWaiting ${barrier.nWaiting}, broken ${barrier.broken}`;
  try {
    await watch(what, progress, finished, { stallMs: 5000, totalMs: 100_000, state });
    Atomics.store(stop, 0, 1);
    barrier.abort();
    await joinAll(what, ts, 60_000, state);
  } finally {
    Atomics.store(stop, 0, 1);
    for (const t of ts) t.terminate();
  }
  return [...counts];
}

describe('Barrier (issue 10, item 2)', () => {
  it('four threads on a Barrier(2): every pass takes exactly two, indexes 0 and 1', async () => {
    const [zeros, ones, outside, broken] = await crowd(new Barrier(2), 4, 3000);
    assert.equal(outside, 0, 'indexes out of 0..1');
    assert.equal(broken, 0, 'BrokenBarrierError while running');
    assert.equal(zeros, ones, 'each pass gives one index 0 and one index 1');
    assert.ok(zeros! > 10, `passes: ${zeros}`);
  });

  it('arrivals during a slow action wait for the next generation: four threads on a Barrier(2) with a 300 ms action', async () => {
    const [zeros, ones, outside, broken] = await crowd(new Barrier(2, { action: barrierActions.slowPass }), 4, 2000);
    assert.equal(outside, 0, 'indexes out of 0..1');
    assert.equal(broken, 0, 'BrokenBarrierError while running');
    assert.equal(zeros, ones, 'each pass gives one index 0 and one index 1');
    assert.ok(zeros! >= 2, `passes: ${zeros}`);
  });
});
