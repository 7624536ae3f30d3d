// A process-pool worker SIGKILLed while its task holds a Lock, an RLock and a
// Condition's lock of this process (through proxies): the owner gives them back as
// soon as it sees the worker's connection close, as it does for a Process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Condition, Event, Lock, ProcessPoolExecutor, RLock, Value } from '../../src/index.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';

describe('a process-pool worker killed while its task holds locks through proxies', () => {
  it('its Lock, RLock and Condition lock come back to their owner within a moment', { timeout: 120_000 }, async () => {
    const pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      const lock = new Lock();
      const rlock = new RLock();
      const cond = new Condition(new Lock());
      const ready = new Event();
      const pid = new Value('i32', 0);
      const task = pool.submit(proxyTasks.holdAndTellPid, ready, pid, lock, rlock, cond);
      assert.equal(await ready.wait(60_000), true, 'the task took the locks');
      assert.equal(lock.locked(), true);
      process.kill(pid.value as number, 'SIGKILL');
      await assert.rejects(task, { name: 'WorkerCrashedError' });
      // Generous for a loaded machine; the owner normally sees the death within milliseconds.
      assert.equal(await lock.acquire({ timeout: 3000 }), true, 'the Lock was released');
      assert.equal(await rlock.acquire({ timeout: 3000 }), true, 'the RLock was released');
      assert.equal(await cond.acquire({ timeout: 3000 }), true, "the Condition's lock was released");
      lock.release();
      rlock.release();
      cond.release();
    } finally {
      await pool.shutdown();
    }
  });
});
