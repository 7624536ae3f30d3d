import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, Thread, ThreadPoolExecutor, TimeoutError } from '../../src/index.js';
import { regressionTasks } from '../fixtures/sync-torture-tasks.js';
import { flagged, ints } from './harness.js';

/** A pool of one worker that has started and loaded the fixture module (so a task's timeout measures the task, not the start). */
async function warmPool(): Promise<ThreadPoolExecutor> {
  const pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  await pool.submit(regressionTasks.conditionNotify, new Condition(), 0);
  return pool;
}

/** Waits in a main-thread coroutine, has `notifier` run notify(1), and says whether this waiter woke. */
async function mainWaiterGetsNotify(cond: Condition, notifier: ThreadPoolExecutor): Promise<boolean | 'not woken'> {
  await cond.acquire();
  const waiting = cond.wait(60_000);
  await notifier.submit(regressionTasks.conditionNotify, cond, 1);
  // The bound's timer is cleared once the waiter wakes: left running, it held this file's
  // process open for up to 10 s after its last test had ended.
  let bound: NodeJS.Timeout | undefined;
  const late = new Promise<'not woken'>((resolve) => (bound = setTimeout(() => resolve('not woken'), 10_000)));
  const woke = await Promise.race([waiting, late]);
  clearTimeout(bound);
  if (woke === 'not woken') {
    // Let the wait out so that the test ends (the dead waiter took the notify).
    await notifier.submit(regressionTasks.conditionNotify, cond, 256);
    await waiting;
  }
  cond.release();
  return woke;
}

describe('Condition: a waiter whose thread was stopped (issue 10, item 4)', () => {
  it("a waiter stopped by its task's timeout does not take the next notify(1): a live waiter in the main thread gets it", async () => {
    const cond = new Condition();
    await using pool = await warmPool();
    await using notifier = await warmPool();
    // The task must be waiting when its timeout stops it; on a loaded machine a start may be slow, so try again if it was not.
    for (let attempt = 0; ; attempt++) {
      const started = ints();
      await assert.rejects(pool.submitWith({ timeout: 1500 }, regressionTasks.conditionWaitForever, cond, started).result(), TimeoutError);
      if (Atomics.load(started, 0) === 1) break;
      assert.ok(attempt < 3, 'the waiting task never started before its timeout');
    }
    assert.equal(await mainWaiterGetsNotify(cond, notifier), true);
  });

  it('a waiter in a terminated Thread does not take the next notify(1)', async () => {
    const cond = new Condition();
    await using notifier = await warmPool();
    const started = ints();
    const t = new Thread({ target: regressionTasks.conditionWaitForever, args: [cond, started] }).start();
    assert.ok(await flagged(started, 0, 60_000), 'the waiting thread started');
    t.terminate();
    await t.join();
    assert.equal(await mainWaiterGetsNotify(cond, notifier), true);
  });
});
