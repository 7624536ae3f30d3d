// A process-pool worker SIGKILLed while its task holds a Lock, an RLock or a Condition's
// lock of this process (through proxies): the owner gives them back as soon as it sees
// the worker's connection close, as it does for a Process, even when another process
// was killed first while it waited for the same lock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Condition, Event, Lock, Process, ProcessPoolExecutor, RLock, sleep, Value } from '../../src/index.js';
import { WAITERS } from '../../src/sync/lock-base.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';

/** How long the owner may take to see a death and give the locks back: generous for a loaded machine (it takes milliseconds). */
const GIVE_BACK_MS = 3000;

describe('a process-pool worker killed while its task holds locks through proxies', () => {
  it('its Lock, RLock and Condition lock come back to their owner at once', { timeout: 120_000 }, async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      const lock = new Lock();
      const rlock = new RLock();
      const cond = new Condition(new Lock());
      const ready = new Event();
      const pid = new Value('i32', 0);
      const task = pool.submit(proxyTasks.holdAndTellPid, ready, pid, lock, rlock, cond);
      assert.equal(await ready.wait(60_000), true, 'the task took the locks');
      assert.equal(lock.locked() && rlock.locked(), true);
      process.kill(pid.value as number, 'SIGKILL');
      await assert.rejects(task, { name: 'WorkerCrashedError' });
      assert.equal(await lock.acquire({ timeout: GIVE_BACK_MS }), true, 'the Lock was released');
      assert.equal(await rlock.acquire({ timeout: GIVE_BACK_MS }), true, 'the RLock was released');
      assert.equal(await cond.acquire({ timeout: GIVE_BACK_MS }), true, "the Condition's lock was released");
      lock.release();
      rlock.release();
      cond.release();
    } finally {
      await pool.shutdown();
    }
  });

  for (const Kind of [Lock, RLock]) {
    it(`its ${Kind.name} comes back after a process waiting for it was killed first`, { timeout: 120_000 }, async () => {
      const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
      try {
        const lock = new Kind();
        const held = new Event();
        const waiting = new Event();
        const pid = new Value('i32', 0);
        const task = pool.submit(proxyTasks.holdAndTellPid, held, pid, lock);
        assert.equal(await held.wait(60_000), true, 'the task took the lock');
        const waiter = new Process({ target: proxyTasks.blockOnLockAfter, args: [waiting, lock] }).start();
        assert.equal(await waiting.wait(60_000), true);
        // Its acquire has reached the broker once the broker waits on the lock.
        for (const end = performance.now() + 60_000; Atomics.load(lock._state, WAITERS) === 0; await sleep(10)) {
          assert.ok(performance.now() < end, 'the waiter blocked on the lock within 60 s');
        }
        waiter.kill();
        await waiter.join();
        process.kill(pid.value as number, 'SIGKILL');
        await assert.rejects(task, { name: 'WorkerCrashedError' });
        assert.equal(await lock.acquire({ timeout: GIVE_BACK_MS }), true, `the ${Kind.name} was released`);
        lock.release();
      } finally {
        await pool.shutdown();
      }
    });
  }
});
