// Issue 10 items 4 and 5b: what a process held or waited on through a proxy when it was
// SIGKILLed. The owner gives back a Lock, an RLock and a Condition's lock the dead
// process held, and the lock its Condition wait re-acquired for it; a Semaphore's
// permits are never given back (a semaphore may be a signal, not a lock).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Condition, Event, Lock, Process, RLock, Semaphore, sleep } from '../../src/index.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';
import { ME } from '../../src/sync/owner.js';

async function killedWhile<A extends unknown[]>(target: (...args: A) => unknown, args: A, ready: Event): Promise<void> {
  const p = new Process({ target: target as (...a: unknown[]) => unknown, args }).start();
  assert.equal(await ready.wait(60_000), true, 'the child got where it should be killed');
  p.kill();
  await p.join();
  assert.equal(p.exitCode, -9);
}

describe('a process killed while it holds or waits through a proxy', () => {
  it('its Lock, RLock and Condition lock are released by their owner; its Semaphore permit is not', { timeout: 180_000 }, async () => {
    const lock = new Lock();
    const rlock = new RLock();
    const condLock = new Lock();
    const cond = new Condition(condLock);
    const sem = new Semaphore(2);
    const ready = new Event();
    await killedWhile(proxyTasks.holdAndHang, [ready, sem, rlock, cond, lock], ready);
    assert.equal(await lock.acquire({ timeout: 5000 }), true, 'the Lock was released');
    assert.equal(await rlock.acquire({ timeout: 5000 }), true, 'the RLock was released');
    assert.equal(await cond.acquire({ timeout: 5000 }), true, "the Condition's lock was released");
    // Each taker is told that the holder died holding it, as with a lock in shared memory.
    assert.deepEqual([lock.ownerDied, rlock.ownerDied, condLock.ownerDied], [true, true, true]);
    // The locks were given back together when the death was seen: the permit stays taken.
    assert.equal(sem.value, 1, 'the Semaphore permit the dead process took stays taken');
    lock.release();
    rlock.release();
    cond.release();
    assert.deepEqual([lock.ownerDied, rlock.ownerDied, condLock.ownerDied, lock.locked()], [false, false, false, false]);
  });

  it('a Condition wait it was in gives back the lock re-acquired for it after notifyAll', { timeout: 180_000 }, async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    const extra = new Lock();
    const ready = new Event();
    const p = new Process({ target: proxyTasks.waitOnConditionForever, args: [cond, extra, ready] }).start();
    assert.equal(await ready.wait(60_000), true);
    // The child waits once its wait has given the lock up.
    assert.equal(await cond.acquire({ timeout: 60_000 }), true);
    cond.release();
    p.kill();
    await p.join();
    assert.equal(await cond.acquire({ timeout: 5000 }), true);
    cond.notifyAll();
    cond.release();
    // A wait notified for a dead caller takes the lock if it can: give it the chance
    // (it is over once the lock is seen held, or after 2 s of not being taken).
    const until = performance.now() + 2000;
    while (!lock.locked() && performance.now() < until) await sleep(10);
    assert.equal(await cond.acquire({ timeout: 3000 }), true, 'the lock is free again after notifyAll');
    cond.release();
  });

  it('its place among the waiters goes: notify(1) wakes a live waiter, not the dead one', { timeout: 180_000 }, async () => {
    const cond = new Condition(new Lock());
    // Served by this process's broker whatever the crossing (a Condition stays a proxy):
    // the broker gives it back only after it stopped the dead process's waits. A plain
    // Lock in shared memory would be taken over from the dead holder at once, maybe first.
    const extra = new Condition(new Lock());
    const ready = new Event();
    const p = new Process({ target: proxyTasks.waitOnConditionForever, args: [cond, extra as unknown as Lock, ready] }).start();
    assert.equal(await ready.wait(60_000), true);
    assert.equal(await cond.acquire({ timeout: 60_000 }), true);
    // A live waiter here, after the child's (so the child's wait is the older).
    const live = cond.wait(10_000);
    p.kill();
    await p.join();
    // `extra` is given back once the owner has seen the death; by then the dead wait is gone.
    assert.equal(await extra.acquire({ timeout: 5000 }), true, 'the dead process held extra');
    assert.equal(await cond.acquire({ timeout: 5000 }), true);
    cond.notify(1);
    cond.release();
    assert.equal(await live, true, 'notify(1) woke the live waiter');
    cond.release();
  });
});

describe('a Lock a killed process held once, then released by another', () => {
  it('is not released for the dead process when the owner has taken it since', { timeout: 180_000 }, async () => {
    const lock = new Lock();
    const extra = new Lock();
    const ready = new Event();
    const p = new Process({ target: proxyTasks.holdAndHang, args: [ready, lock, extra] }).start();
    assert.equal(await ready.wait(60_000), true);
    // Any thread may release a Lock (threading.Lock): the owner does, and takes it itself.
    lock.release();
    assert.equal(lock.acquireSync({ blocking: false }), true);
    p.kill();
    await p.join();
    // `extra` comes back once the owner has seen the death.
    assert.equal(await extra.acquire({ timeout: 5000 }), true, 'the dead process held extra');
    assert.equal(lock.locked(), true, "the owner's own holding of the Lock stays");
    lock.release();
    extra.release();
  });
});

describe("a Condition wait a killed process was in, while another holds the Condition's lock", () => {
  it('leaves the lock with its holder, and gives it back once the dead wait has taken it', { timeout: 180_000 }, async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    // A Condition stays a proxy, so the broker gives its lock back: only once it has
    // dealt with `cond`'s lock, which the child took first (see the fixture).
    const extra = new Condition(new Lock());
    const ready = new Event();
    const p = new Process({ target: proxyTasks.waitOnConditionHoldingAfter, args: [cond, extra as unknown as Lock, ready] }).start();
    assert.equal(await ready.wait(60_000), true);
    // The child's wait has given the lock up: this thread holds it now, while the child waits.
    assert.equal(await cond.acquire({ timeout: 60_000 }), true);
    p.kill();
    await p.join();
    assert.equal(await extra.acquire({ timeout: 5000 }), true, 'the dead process held extra');
    // The owner has seen the death: the dead wait waits to take the lock back, and the
    // lock is still this thread's (released for the dead caller, it would not be).
    assert.equal(lock._releaseIfHeldBy(ME), true, 'this thread still held the lock');
    // Released here, the lock is taken for the dead wait and given back at once.
    assert.equal(await cond.acquire({ timeout: 5000 }), true, 'the lock the dead wait took back was given back');
    cond.release();
    extra.release();
  });
});
