import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
  SharedArray,
  Thread,
  ThreadPoolExecutor,
  Value,
} from '../../src/index.js';
import { barrierActions, syncTasks } from '../fixtures/sync-tasks.js';
import { MAX_CONDITION_WAITERS } from '../../src/sync/condition.js';

const ints = (n = 1): Int32Array => new Int32Array(new SharedArrayBuffer(4 * n));
/** Waits (as an event, not a sleep) until view[0] reaches `target`. */
async function until(view: Int32Array, target: number): Promise<void> {
  for (let v = Atomics.load(view, 0); v < target; v = Atomics.load(view, 0)) {
    const r = Atomics.waitAsync(view, 0, v, 10_000);
    const keep = setTimeout(() => {}, 10_000);
    if (r.async) await r.value;
    clearTimeout(keep);
  }
}
const run = async <A extends unknown[]>(target: (...args: A) => unknown, ...args: A): Promise<Thread<A>> => {
  const t = new Thread({ target, args }).start();
  return t;
};

describe('Lock', () => {
  it('acquire, locked, release; a second acquire fails without blocking and after a timeout', async () => {
    const lock = new Lock();
    assert.equal(lock.locked(), false);
    assert.equal(await lock.acquire(), true);
    assert.equal(lock.locked(), true);
    assert.equal(await lock.acquire({ blocking: false }), false);
    assert.equal(await lock.acquire({ timeout: 10 }), false);
    assert.equal(lock.acquireSync({ timeout: 0 }), false);
    lock.release();
    assert.equal(lock.locked(), false);
    assert.throws(() => lock.release(), /release unlocked lock/);
    await assert.rejects(lock.acquire({ blocking: false, timeout: 1 }), /non-blocking/);
    await assert.rejects(lock.acquire({ timeout: -1 }), RangeError);
  });

  it('a waiter gets the lock when it is released', async () => {
    const lock = new Lock();
    await lock.acquire();
    const waiting = lock.acquire();
    lock.release();
    assert.equal(await waiting, true);
    assert.equal(lock.locked(), true);
  });

  it('can be released by another thread', async () => {
    const lock = new Lock();
    await lock.acquire();
    const t = await run(syncTasks.releaseLock, lock);
    await t.join();
    assert.equal(lock.locked(), false);
  });

  it('withLock and hold release on throw', async () => {
    const lock = new Lock();
    await assert.rejects(lock.withLock(() => Promise.reject(new Error('inside'))), /inside/);
    assert.equal(lock.locked(), false);
    {
      await using _held = await lock.hold();
      assert.equal(lock.locked(), true);
    }
    assert.equal(lock.locked(), false);
    {
      using _held = lock.holdSync();
      assert.equal(lock.locked(), true);
    }
    assert.equal(lock.locked(), false);
  });

  it('2 threads x 1,000,000 increments of a Value under a Lock is exact', async () => {
    const value = new Value('i32', 0);
    const lock = new Lock();
    const ts = [await run(syncTasks.incrementMany, value, lock, 1_000_000), await run(syncTasks.incrementMany, value, lock, 1_000_000)];
    await Promise.all(ts.map((t) => t.join()));
    assert.equal(value.value, 2_000_000);
  });
});

describe('RLock', () => {
  it('is re-entrant for its owner, and a non-owner cannot release it', async () => {
    const rlock = new RLock();
    assert.equal(await rlock.acquire(), true);
    assert.equal(await rlock.acquire(), true, 're-entrant');
    const out = ints();
    await (await run(syncTasks.tryReleaseRLock, rlock, out)).join();
    assert.equal(out[0], 2, 'another thread could not release it');
    rlock.release();
    assert.equal(rlock.locked(), true, 'still held once');
    rlock.release();
    assert.equal(rlock.locked(), false);
    assert.throws(() => rlock.release(), /cannot release un-acquired lock/);
    const out2 = ints();
    await (await run(syncTasks.holdRLockTwice, rlock, out2)).join();
    assert.equal(out2[0], 1);
  });

  it("refuses bad acquire options from its owner too, as from anyone, and the refusal takes nothing", async () => {
    // A re-entry skipped the check: the owner's acquire({ blocking: false, timeout: 5 })
    // or acquire({ timeout: -1 }) returned true and deepened the holding, where
    // CPython's RLock raises ValueError whoever calls.
    const rlock = new RLock();
    rlock.acquireSync();
    for (const bad of [{ blocking: false, timeout: 5 }, { timeout: -1 }, { timeout: Number.NaN }]) {
      assert.throws(() => rlock.acquireSync(bad), RangeError, JSON.stringify(bad));
      await assert.rejects(rlock.acquire(bad), RangeError, JSON.stringify(bad));
      await assert.rejects(rlock.hold(bad), RangeError, JSON.stringify(bad));
      assert.throws(() => rlock.holdSync(bad), RangeError, JSON.stringify(bad));
    }
    rlock.release();
    assert.equal(rlock.locked(), false, 'held once, released once');
  });
});

describe('Semaphore', () => {
  it('counts permits; release(n) wakes n waiting threads', async () => {
    const sem = new Semaphore(0);
    const taken = ints();
    const ts = await Promise.all([1, 2, 3].map(() => run(syncTasks.semaphoreTaker, sem, taken)));
    sem.release(2);
    await until(taken, 2);
    assert.equal(Atomics.load(taken, 0), 2);
    sem.release();
    await Promise.all(ts.map((t) => t.join()));
    assert.equal(taken[0], 3);
    assert.equal(sem.value, 0);
  });

  it('refuses negative values; BoundedSemaphore refuses releasing past its initial value', async () => {
    assert.throws(() => new Semaphore(-1), RangeError);
    const b = new BoundedSemaphore(2);
    await b.acquire();
    b.release();
    assert.throws(() => b.release(), /released too many times/);
    assert.throws(() => new Semaphore(1).release(0), RangeError);
  });

  it('refuses an initial value past its 32-bit word (2**31 - 1 at most) rather than wrapping it', async () => {
    // The permits live in one int32 of shared memory: 2**31 became -2**31 (every acquire
    // waited for ever), 2**32 + 1 became 1.
    for (const Kind of [Semaphore, BoundedSemaphore]) {
      assert.throws(() => new Kind(2 ** 31), /at most 2147483647/);
      assert.throws(() => new Kind(2 ** 32 + 1), /at most 2147483647/);
    }
    const most = new Semaphore(2 ** 31 - 1);
    assert.equal(most.value, 2 ** 31 - 1);
    assert.equal(await most.acquire({ timeout: 1000 }), true);
    assert.equal(most.value, 2 ** 31 - 2);
  });
});

describe('Event', () => {
  it('wait is true once set, false on timeout; waitSync from threads', async () => {
    const e = new Event();
    assert.equal(e.isSet(), false);
    assert.equal(await e.wait(5), false);
    const out = ints(2);
    const ts = [await run(syncTasks.eventWaiter, e, out, 0), await run(syncTasks.eventWaiter, e, out, 1)];
    e.set();
    await Promise.all(ts.map((t) => t.join()));
    assert.deepEqual([...out], [1, 1]);
    assert.equal(await e.wait(), true);
  });

  it('wait returns true even if the event was set and cleared before the waiter woke', async () => {
    const e = new Event();
    const waiting = e.wait(10_000);
    e.set();
    e.clear();
    assert.equal(await waiting, true);
    assert.equal(e.isSet(), false);
  });
});

describe('Condition', () => {
  it('notify(n) wakes exactly n waiting threads; notifyAll wakes the rest', async () => {
    const cond = new Condition();
    const woken = ints();
    const ready = ints();
    const ts = await Promise.all([1, 2, 3, 4].map(() => run(syncTasks.conditionWaiter, cond, woken, ready)));
    await until(ready, 4);
    // every waiter has released the lock inside waitSync once we can take it
    await cond.acquire();
    cond.notify(2);
    cond.release();
    await until(woken, 2);
    await cond.acquire();
    assert.equal(Atomics.load(woken, 0), 2, 'exactly two woke');
    cond.notifyAll();
    cond.release();
    await Promise.all(ts.map((t) => t.join()));
    assert.equal(woken[0], 4);
  });

  it('wait times out, waitFor returns the predicate, and both need the lock', async () => {
    const cond = new Condition(new Lock());
    await assert.rejects(cond.wait(1), /un-acquired lock/);
    assert.throws(() => cond.notify(), /un-acquired lock/);
    await cond.acquire();
    assert.equal(await cond.wait(5), false);
    let ready = false;
    setImmediate(async () => {
      await cond.acquire();
      ready = true;
      cond.notify();
      cond.release();
    });
    assert.equal(await cond.waitFor(() => ready, 10_000), true);
    assert.equal(await cond.waitFor(() => false, 5), false);
    cond.release();
  });
});

describe('Condition order past its ticket counter', () => {
  it('notify(1) wakes the oldest waiter when the ticket counter has wrapped between two waiters (after 2**31 waits)', async () => {
    const cond = new Condition(new Lock());
    Atomics.store(cond._state, 0, 2 ** 31 - 1); // the next ticket: the last before the int32 wraps
    const order: string[] = [];
    let waiting = 0;
    const waiter = async (name: string): Promise<void> => {
      await cond.acquire();
      waiting++;
      try {
        if (await cond.wait(30_000)) order.push(name);
      } finally {
        cond.release();
      }
    };
    const older = waiter('older');
    while (waiting < 1) await new Promise((r) => setImmediate(r));
    const newer = waiter('newer');
    while (waiting < 2) await new Promise((r) => setImmediate(r));
    await cond.acquire();
    cond.notify(1);
    cond.release();
    await Promise.race([older, newer]);
    assert.deepEqual(order, ['older'], 'the first to wait is the first woken');
    await cond.acquire();
    cond.notifyAll();
    cond.release();
    await Promise.all([older, newer]);
  });
});

describe('Condition waiters past its slots', () => {
  it('one waiter more than MAX_CONDITION_WAITERS is refused by an error naming the limit; the rest are woken and the Condition goes on', async () => {
    const cond = new Condition(new Lock());
    let waiting = 0;
    let woken = 0;
    const waiters = Array.from({ length: MAX_CONDITION_WAITERS }, async () => {
      await cond.acquire();
      waiting++;
      try {
        if (await cond.wait(30_000)) woken++;
      } finally {
        cond.release();
      }
    });
    while (waiting < MAX_CONDITION_WAITERS) await new Promise((r) => setImmediate(r));
    await cond.acquire();
    await assert.rejects(cond.wait(30_000), new RegExp(`more than ${MAX_CONDITION_WAITERS} waiters.*threads and coroutines.*at once`, 's'));
    cond.notifyAll();
    cond.release();
    await Promise.all(waiters);
    assert.equal(woken, MAX_CONDITION_WAITERS);
    await cond.acquire();
    assert.equal(await cond.wait(1), false);
    cond.release();
  });
});

describe('Barrier', () => {
  it('gives distinct indexes and runs its action once per pass, in whichever thread arrives last', async () => {
    const passes = join(mkdtempSync(join(tmpdir(), 'concur-barrier-')), 'passes');
    process.env.CONCUR_BARRIER_PASSES = passes;
    const barrier = new Barrier(3, { action: barrierActions.countPass });
    for (let round = 0; round < 2; round++) {
      const out = ints(2);
      const ts = [await run(syncTasks.barrierWaiter, barrier, out, 0), await run(syncTasks.barrierWaiter, barrier, out, 1)];
      const mine = await barrier.wait();
      await Promise.all(ts.map((t) => t.join()));
      assert.deepEqual([...out, mine].sort(), [0, 1, 2]);
    }
    assert.equal(readFileSync(passes, 'utf8'), 'pass\npass\n', 'one action per pass');
  });

  it('abort, reset and a timed-out wait break it with BrokenBarrierError', async () => {
    const b = new Barrier(2);
    await assert.rejects(b.wait(10), BrokenBarrierError);
    assert.equal(b.broken, true);
    await assert.rejects(b.wait(), BrokenBarrierError);
    b.reset();
    assert.equal(b.broken, false);
    const waiting = b.wait();
    b.abort();
    await assert.rejects(waiting, BrokenBarrierError);
    b.reset();
    const waiting2 = b.wait();
    assert.equal(b.nWaiting, 1);
    b.reset();
    await assert.rejects(waiting2, BrokenBarrierError);
    assert.throws(() => new Barrier(0), RangeError);
  });
});

describe('Value and SharedArray', () => {
  it('hold numbers in shared memory; Python type codes work; bad types are refused', () => {
    const v = new Value('d', 1.5);
    v.value += 1;
    assert.equal(v.value, 2.5);
    const big = new Value('i64', 2n ** 40n);
    assert.equal(big.value, 2n ** 40n);
    const arr = new SharedArray('i32', [1, 2, 3]);
    assert.equal(arr.length, 3);
    assert.deepEqual([...arr.array], [1, 2, 3]);
    assert.ok(arr.array.buffer instanceof SharedArrayBuffer);
    assert.throws(() => new Value('x' as 'i32', 0), /unknown element type/);
    assert.ok(v.getLock() instanceof RLock);
  });

  it("a Value refuses what its type cannot hold, as Python's ctypes does (TypeError), and keeps what it had", () => {
    const i = new Value('i', 7);
    for (const bad of [1.5, NaN, Infinity, '3', null, 2n]) {
      assert.throws(() => (i.value = bad as never), (e) => e instanceof TypeError && /Value\('i'\) holds integers/.test(e.message), String(bad));
      assert.equal(i.value, 7);
    }
    assert.throws(() => new Value('u8', 0.5), TypeError);
    i.value = -3; // an integer out of range wraps, as ctypes' c_int does
    assert.equal(i.value, -3);
    const d = new Value('d', 0);
    for (const bad of ['1.5', null, {}, 1n]) {
      assert.throws(() => (d.value = bad as never), (e) => e instanceof TypeError && /Value\('d'\) holds numbers/.test(e.message), String(bad));
    }
    d.value = NaN; // a float may be NaN, as in Python
    assert.ok(Number.isNaN(d.value));
    const q = new Value('q', 0n);
    assert.throws(() => (q.value = 1 as never), (e) => e instanceof TypeError && /Value\('q'\) holds bigints/.test(e.message));
    q.value = -(2n ** 62n);
    assert.equal(q.value, -(2n ** 62n));
  });

  it('a SharedArray too large to allocate is a RangeError naming the bytes asked for, with or without the native part', () => {
    assert.throws(() => new SharedArray('f64', 2 ** 40), (err: Error) => {
      assert.ok(err instanceof RangeError, `${err.name}: ${err.message}`);
      assert.match(err.message, /8796093022208 bytes/);
      return true;
    });
  });

  it('a Value and its lock cross into pool tasks and threads as the same memory', async () => {
    const value = new Value('i32', 0);
    const lock = new Lock();
    await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });
    await Promise.all([pool.submit(syncTasks.incrementMany, value, lock, 10_000), pool.submit(syncTasks.incrementMany, value, lock, 10_000)]);
    assert.equal(value.value, 20_000);
  });
});
