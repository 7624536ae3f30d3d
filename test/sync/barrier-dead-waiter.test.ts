import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Barrier, BrokenBarrierError, Thread } from '../../src/index.js';
import { barrierActions, regressionTasks } from '../fixtures/sync-torture-tasks.js';
import { delay, flagged, ints } from './harness.js';
import { ends } from '../fixtures/ends.js';

/** Resolves once `b` has `n` waiters; throws after `ms` (threads take a while to start on a loaded machine). */
async function waiters(b: Barrier, n: number, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (b.nWaiting < n) {
    assert.ok(Date.now() < deadline, `the barrier has ${b.nWaiting} waiter(s), expected ${n}`);
    await delay(5);
  }
}

/** A thread that waits on `b` (no timeout) and reports how its wait ended (see barrierWaitReport). */
function waiter(b: Barrier): { thread: Thread<any>; out: Int32Array; message: Int32Array } {
  const out = ints(2);
  const message = ints(200);
  const thread = new Thread({ target: regressionTasks.barrierWaitReport, args: [b, out, message] }).start();
  return { thread, out, message };
}

/** A thread waits on `b` and is terminated while it waits. */
async function dieWaiting(b: Barrier, before: number): Promise<void> {
  const w = waiter(b);
  await waiters(b, before + 1);
  w.thread.terminate();
  await w.thread.join();
}

/** `b.wait()` from the main thread, failing (instead of hanging) if it has not settled within `ms`. */
function waitAtMost(b: Barrier, ms: number): Promise<number> {
  return ends(b.wait(), 'the wait', ms);
}

const text = (words: Int32Array): string => String.fromCharCode(...[...words].filter((c) => c !== 0));

describe('Barrier: a waiter whose thread is terminated breaks the barrier', () => {
  it('a thread waiting beside it gets BrokenBarrierError instead of waiting for ever', async () => {
    const b = new Barrier(3);
    const other = waiter(b);
    await waiters(b, 1);
    await dieWaiting(b, 1);
    try {
      assert.ok(await flagged(other.out, 1, 10_000), 'the other waiter is still waiting');
      assert.equal(other.out[1], -1, `BrokenBarrierError (-1), got ${other.out[1]}`);
      assert.match(text(other.message), /terminated/);
      assert.equal(b.broken, true);
    } finally {
      other.thread.terminate();
    }
  });

  it('the next arrival finds the dead arrival and gets BrokenBarrierError at once', async () => {
    const b = new Barrier(2);
    await dieWaiting(b, 0);
    await assert.rejects(waitAtMost(b, 10_000), (err: Error) => err instanceof BrokenBarrierError && /terminated/.test(err.message));
    assert.equal(b.broken, true);
  });

  it('the thread running the action, terminated inside it, breaks the barrier too', async () => {
    const b = new Barrier(2, { action: barrierActions.endless });
    const mine = waitAtMost(b, 20_000);
    // It rejects as soon as the passer dies, perhaps while we still await its join().
    mine.catch(() => {});
    await waiters(b, 1);
    const passer = waiter(b);
    // PASSING (state word 3 is 1): the thread arrived last and runs the action.
    const deadline = Date.now() + 60_000;
    while (Atomics.load(b._state, 3) !== 1) {
      assert.ok(Date.now() < deadline, 'the second thread never arrived');
      await delay(5);
    }
    passer.thread.terminate();
    await passer.thread.join();
    await assert.rejects(mine, BrokenBarrierError);
    assert.equal(b.broken, true);
  });

  it('a generation whose arrivals are complete but one is dead does not pass; after reset() the barrier works again', async () => {
    const b = new Barrier(3);
    await dieWaiting(b, 0);
    const results = await Promise.allSettled([waitAtMost(b, 10_000), waitAtMost(b, 10_000)]);
    for (const r of results) assert.ok(r.status === 'rejected' && r.reason instanceof BrokenBarrierError, `a wait ended with ${r.status === 'fulfilled' ? `index ${r.value}` : String(r.reason)}`);
    b.reset();
    assert.equal(b.broken, false);
    const indexes = await Promise.all([waitAtMost(b, 10_000), waitAtMost(b, 10_000), waitAtMost(b, 10_000)]);
    assert.deepEqual(indexes.sort(), [0, 1, 2]);
  });
});
