// A process SIGKILLed while it waits (no timeout) to acquire a Lock or RLock that
// another holds: the owner's broker drops the dead caller's wait and goes on serving
// everyone else, and the lock is not taken for the dead caller.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Condition, Event, Lock, Process, ProcessPoolExecutor, RLock, sleep } from '../../src/index.js';
import { WAITERS } from '../../src/sync/lock-base.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// This file tests the owner-served proxy: its primitives cross as proxies even where they could cross as memory.
_crossAsProxies(true);

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

describe('a process killed while it waits to acquire through a proxy', () => {
  // Another process that calls the broker: it must be answered while the lock stays held.
  const other = new ProcessPoolExecutor({ maxWorkers: 1 });
  const probe = new Event();
  probe.set();
  before(() => other.submit(proxyTasks.isSet, probe));
  after(() => other.shutdown());

  for (const Kind of [Lock, RLock]) {
    it(`its wait on a ${Kind.name} the owner holds ends, and the broker keeps answering others`, { timeout: 120_000 }, async () => {
      const lock = new Kind();
      const ready = new Event();
      assert.equal(lock.acquireSync(), true);
      const p = new Process({ target: proxyTasks.blockOnLockAfter, args: [ready, lock] }).start();
      assert.equal(await ready.wait(60_000), true);
      // Its acquire has reached the broker once the broker waits on the lock.
      await until('the child waits on the lock', () => Atomics.load(lock._state, WAITERS) > 0, 60_000);
      p.kill();
      await p.join();
      // The dead caller's wait ends (the owner still holds the lock)...
      await until("the dead caller's wait ended", () => Atomics.load(lock._state, WAITERS) === 0, 5000);
      // ...and the broker answers another process meanwhile.
      const answered = other.submit(proxyTasks.isSet, probe);
      await until('another process got its answer', () => answered.done(), 10_000);
      assert.equal(await answered, true);
      lock.release();
      assert.equal(lock.locked(), false, 'the lock was not taken for the dead caller');
      assert.equal(await lock.acquire({ timeout: 5000 }), true);
      lock.release();
    });
  }

  it("a Condition waiter killed while its wait takes the RLock back leaves the owner's own holding and depth alone", { timeout: 120_000 }, async () => {
    const cond = new Condition();
    const extra = new Lock();
    const ready = new Event();
    const p = new Process({ target: proxyTasks.waitOnConditionForever, args: [cond, extra, ready] }).start();
    assert.equal(await ready.wait(60_000), true);
    // Once the child's wait has given the lock up, the owner takes it, twice.
    assert.equal(await cond.acquire({ timeout: 60_000 }), true);
    assert.equal(await cond.acquire({ timeout: 1000 }), true);
    cond.notify(1);
    // The notified wait now waits to take the lock back, for the child.
    await until('the woken wait waits for the lock', () => Atomics.load(cond.lock._state, WAITERS) > 0, 10_000);
    p.kill();
    await p.join();
    assert.equal(await extra.acquire({ timeout: 5000 }), true, 'the death was seen (the dead process held extra)');
    assert.equal(cond.lock._isOwned(), true, 'the owner still holds its RLock');
    cond.release();
    assert.equal(cond.lock._isOwned(), true, 'at depth 1 now');
    cond.release();
    // The dead waiter's wait may take the lock back now, and gives it back at once.
    assert.equal(await cond.acquire({ timeout: 5000 }), true);
    cond.release();
    extra.release();
  });
});
