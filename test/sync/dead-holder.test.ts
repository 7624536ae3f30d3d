import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, Lock, RLock, Semaphore, Thread, ThreadPoolExecutor, TimeoutError } from '../../src/index.js';
import { regressionTasks } from '../fixtures/sync-torture-tasks.js';
import { flagged, ints } from './harness.js';
import { registerThread } from '../../src/sync/thread-life.js';

type Holdable = Lock | RLock | Semaphore;

/** Has a thread take `lock` and then terminates it while it holds it. */
async function dieHolding(lock: Holdable): Promise<void> {
  const started = ints();
  const t = new Thread({ target: regressionTasks.holdForever, args: [lock, started] }).start();
  assert.ok(await flagged(started, 0, 60_000), 'the holding thread started');
  t.terminate();
  await t.join();
}

describe('Locks whose holder died (issue 10, item 5b)', () => {
  for (const make of [() => new Lock(), () => new RLock()]) {
    const kind = make().constructor.name;
    it(`${kind}: held by a terminated thread, the next acquire gets it and learns ownerDied once`, async () => {
      const lock = make();
      await dieHolding(lock);
      assert.equal(lock.locked(), true, 'still marked held by the dead thread');
      assert.equal(await lock.acquire({ timeout: 3000 }), true, 'recovered within the timeout');
      assert.equal(lock.ownerDied, true, 'the new holder learns the previous one died');
      lock.release();
      assert.equal(lock.locked(), false);
      assert.equal(lock.acquireSync({ timeout: 0 }), true);
      assert.equal(lock.ownerDied, false, 'reported for one holding only');
      lock.release();
    });

    it(`${kind}: a thread already waiting when the holder dies gets it and learns ownerDied`, async () => {
      const lock = make();
      const started = ints();
      const holder = new Thread({ target: regressionTasks.holdForever, args: [lock, started] }).start();
      assert.ok(await flagged(started, 0, 60_000));
      const out = ints();
      const waiter = new Thread({ target: regressionTasks.takeAndReportOwnerDied, args: [lock, out] }).start();
      holder.terminate();
      assert.ok(await flagged(out, 0, 60_000), 'the waiter finished');
      await waiter.join();
      assert.equal(out[0], 1, 'the waiter took the lock and saw ownerDied (1; 2: not told, 3: never got it)');
      assert.equal(lock.locked(), false);
    });
  }

  for (const make of [() => new Lock(), () => new RLock()]) {
    const kind = make().constructor.name;
    it(`${kind}: a waiter terminated while it waits does not slow every later hand-over to a slice`, async () => {
      // The dead waiter's count stays in WAITERS, so a release with no one waiting still
      // marks a waiter woken (WOKEN), which no one then clears; the next waiter to sleep
      // was never woken by a release and slept out its slice (250 ms in the main thread)
      // at every hand-over.
      const lock = make();
      await lock.acquire();
      const started = ints();
      const dying = new Thread({ target: regressionTasks.waitForLock, args: [lock, started] }).start();
      assert.ok(await flagged(started, 0, 60_000));
      while (Atomics.load(lock._state, 1) === 0) await new Promise((r) => setImmediate(r)); // it counts itself a waiter (WAITERS)
      dying.terminate();
      await dying.join();
      lock.release();
      const rounds = 6;
      const held = ints();
      const took = ints();
      // The holder releases once this thread counts itself a waiter beside the dead one.
      const holder = new Thread({ target: regressionTasks.handOver, args: [lock, held, took, 2, rounds] }).start();
      let slowest = 0;
      for (let round = 1; round <= rounds; round++) {
        assert.ok(await flagged(held, 0, 60_000));
        while (Atomics.load(held, 0) < round) await new Promise((r) => setImmediate(r));
        const from = performance.now();
        assert.equal(await lock.acquire({ timeout: 30_000 }), true);
        slowest = Math.max(slowest, performance.now() - from);
        lock.release();
        Atomics.store(took, 0, round);
        Atomics.notify(took, 0);
      }
      await holder.join();
      assert.ok(slowest < 150, `a hand-over took ${slowest.toFixed(0)} ms: the release did not wake the waiter`);
    });
  }

  it("a Condition's lock held by a task stopped by its timeout is recovered", async () => {
    const cond = new Condition();
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    await pool.submit(regressionTasks.conditionNotify, new Condition(), 0);
    for (let attempt = 0; ; attempt++) {
      const started = ints();
      await assert.rejects(pool.submitWith({ timeout: 1500 }, regressionTasks.holdForever, cond.lock as RLock, started).result(), TimeoutError);
      if (Atomics.load(started, 0) === 1) break;
      assert.ok(attempt < 3, 'the holding task never started before its timeout');
    }
    assert.equal(await cond.acquire({ timeout: 3000 }), true);
    assert.equal((cond.lock as RLock).ownerDied, true);
    cond.notifyAll();
    cond.release();
  });

  it('a Semaphore permit taken by a thread that died is never given back', async () => {
    const sem = new Semaphore(1);
    await dieHolding(sem);
    assert.equal(await sem.acquire({ timeout: 600 }), false);
    assert.equal(sem.value, 0);
  });
});

describe('a holder that is the main thread, once the process has started 65,536 threads', () => {
  it("a Lock the main thread holds is not taken over by a worker thread as if the main thread had died", { timeout: 60_000 }, async () => {
    const lock = new Lock();
    lock.acquireSync();
    // The 65,536th worker thread a long-running process starts lands on the life table's
    // entry for thread id 0 (the main thread, which is never registered there).
    registerThread(1 << 16);
    const out = ints();
    const waiter = new Thread({ target: regressionTasks.takeAndReportOwnerDied, args: [lock, out] }).start();
    await waiter.join();
    assert.equal(Atomics.load(out, 0), 3, 'the waiter timed out (3); 1 means it took the lock over from the live main thread');
    lock.release();
  });
});
