// A Condition and a Barrier in memory several processes map (src/sync/shm-crossing.ts): a
// process SIGKILLed while it waits on one, or inside the Barrier's internal lock, leaves
// the others working: a notify is not spent on the dead waiter, and a Barrier whose
// party died inside breaks (a seam, CONCUR_TEST_BARRIER_DIE, kills the child with its
// arrival counted but not yet recorded) instead of passing with a dead party.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Barrier, BrokenBarrierError, Condition, Lock, Process } from '../../src/index.js';
import { native } from '../../src/sync/shm.js';
import { shmTasks } from '../fixtures/shm-tasks.js';

const inMemory = native !== undefined;

describe('a Condition and a Barrier whose process dies (memory shared between processes)', { skip: inMemory ? false : 'they cross as proxies without the native part' }, () => {
  it('a process SIGKILLed inside an arrival breaks the Barrier: the next arrival raises, and after reset two live parties pass', { timeout: 60_000 }, async () => {
    const b = new Barrier(2);
    const p = new Process({ target: shmTasks.barrierWait as never, args: [b], env: { ...process.env, CONCUR_TEST_BARRIER_DIE: 'arrive' } }).start();
    await p.join();
    assert.equal(p.exitCode, -9, 'the seam killed the child inside its arrival');
    // Without the repair this arrival would be the second of two, and pass.
    await assert.rejects(b.wait(10_000), BrokenBarrierError);
    assert.equal(b.broken, true);
    b.reset();
    const [x, y] = await Promise.all([b.wait(10_000), b.wait(10_000)]);
    assert.deepEqual([x, y].sort(), [0, 1]);
  });

  it('a waiter SIGKILLed while it waits on a Condition does not take the next notify(1): a live waiter gets it', { timeout: 60_000 }, async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    const p = new Process({ target: shmTasks.conditionWaitForever as never, args: [cond] }).start();
    // Once the child waits, it has given the lock back: taking it here proves the child's slot is claimed.
    for (;;) {
      if (lock.locked() || !(await cond.acquire({ timeout: 50 }))) {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      const waiting = Atomics.load(cond._state, 1) === 1; // the first slot's state: WAITING
      cond.release();
      if (waiting) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    p.kill();
    await p.join();
    await cond.acquire();
    const mine = cond.wait(10_000);
    await cond.acquire(); // the wait gave the lock back
    cond.notify(1);
    cond.release();
    assert.equal(await mine, true, 'the notify reached the live waiter, not the dead one');
    cond.release();
  });
});
