import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  AuthenticationError,
  Barrier,
  Condition,
  EOFError,
  Event,
  Lock,
  Pipe,
  Process,
  ProcessPoolExecutor,
  RLock,
  SharedQueue,
  sleep,
  Value,
} from '../../src/index.js';
import { toProxy } from '../../src/proxy/proxies.js';
import { reviveShared } from '../../src/sync/shared.js';
import { remote } from '../fixtures/remote-tasks.js';
import { syncTasks } from '../fixtures/sync-tasks.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// This file tests the owner-served proxy: its primitives cross as proxies even where they could cross as memory.
_crossAsProxies(true);

describe('primitives across processes', () => {
  it('2 processes x 3,000 increments of a Value under a Lock are exact', { timeout: 30_000 }, async () => {
    const value = new Value('i32', 0);
    const lock = new Lock();
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    await Promise.all([pool.submit(syncTasks.incrementMany, value, lock, 3_000), pool.submit(syncTasks.incrementMany, value, lock, 3_000)]);
    assert.equal(value.value, 6_000);
  });

  it('a Lock held here can be released by another process; an RLock cannot', { timeout: 30_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const lock = new Lock();
    lock.acquireSync();
    await pool.submit(remote.releaseLock, lock);
    assert.equal(lock.locked(), false);
    const rlock = new RLock();
    rlock.acquireSync();
    assert.deepEqual(await pool.submit(remote.foreignRLock, rlock), ['Error: cannot release un-acquired lock', 'acquire: false']);
    rlock.release();
  });

  it('children wait on an Event (async and blocking) until this process sets it', { timeout: 30_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    const event = new Event();
    const waiters = [pool.submit(remote.waitEvent, event, false), pool.submit(remote.waitEvent, event, true)];
    await sleep(50); // not needed for correctness: a set before the waits also returns true
    event.set();
    assert.deepEqual(await Promise.all(waiters), [true, true]);
  });

  it('Condition.notify wakes children waiting in another process', { timeout: 30_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    const cond = new Condition();
    const ready = new Value('i32', 0);
    const waiters = [pool.submit(remote.conditionWaiter, cond, ready), pool.submit(remote.conditionWaiter, cond, ready)];
    // Both have claimed their place once `ready` is 2 under the lock (waiting released it).
    for (;;) {
      await cond.acquire();
      if (ready.value === 2) break;
      cond.release();
      await sleep(5);
    }
    cond.notify(2);
    cond.release();
    assert.deepEqual(await Promise.all(waiters), [true, true]);
  });

  it('a Barrier across processes hands out distinct indexes', { timeout: 30_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    const barrier = new Barrier(3);
    const children = [pool.submit(remote.barrierWaiter, barrier), pool.submit(remote.barrierWaiter, barrier)];
    const mine = await barrier.wait(30_000);
    assert.deepEqual([mine, ...(await Promise.all(children))].sort(), [0, 1, 2]);
  });

  it('a SharedQueue carries items from producer processes, with taskDone/join counted here', { timeout: 30_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    const queue = new SharedQueue<number>({ maxsize: 8 });
    const producers = [pool.submit(remote.produce, queue, 0, 300), pool.submit(remote.produce, queue, 300, 300)];
    const got: number[] = [];
    for (let i = 0; i < 600; i++) {
      got.push(await queue.get());
      queue.taskDone();
    }
    await Promise.all(producers);
    await queue.join();
    assert.deepEqual(got.sort((a, b) => a - b), Array.from({ length: 600 }, (_, i) => i));
    // Each producer's items arrive in its order.
    const firsts = got.filter((x) => x < 300);
    assert.deepEqual(firsts, [...firsts].sort((a, b) => a - b));
  });

  it('puts into an unbounded queue are pipelined, land in order before the next call, and their failures are not lost', { timeout: 30_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const queue = new SharedQueue<number>({ capacityBytes: 1 << 22 });
    assert.equal(await pool.submit(remote.putThenCount, queue, 5000), 'qsize 5000');
    assert.deepEqual(Array.from({ length: 5000 }, () => queue.getNowait()), Array.from({ length: 5000 }, (_, i) => i));
    queue.shutdown();
    assert.equal(await pool.submit(remote.putThenCount, queue, 3), 'QueueShutDown');
    await assert.rejects(pool.submit(remote.lastPutFails, queue), (err: Error) => err.name === 'QueueShutDown');
  });

  it('an item larger than the outbox goes on its own, after what was put before it', { timeout: 30_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const queue = new SharedQueue<string>({ capacityBytes: 16 << 20 });
    await pool.submit(remote.putAroundAGiant, queue);
    assert.deepEqual(
      Array.from({ length: 4 }, () => queue.getNowait()).map((s) => (s.length > 10 ? `${s.length}` : s)),
      ['a', 'b', String(5 << 20), 'c'],
    );
  });

  it('a proxy passes on into a thread of the child', { timeout: 30_000 }, async () => {
    const event = new Event();
    const p = new Process({ target: remote.setFromThread, args: [event] }).start();
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.equal(event.isSet(), true);
  });

  it('when the owner dies, waiting and later calls fail with EOFError instead of hanging', { timeout: 30_000 }, async () => {
    const [here, there] = Pipe();
    const owner = new Process({ target: remote.shareAndHang, args: [there], daemon: true }).start();
    const lock = (await here.recv()) as Lock;
    const event = (await here.recv()) as Event;
    const queue = (await here.recv()) as SharedQueue<number>;
    assert.equal(event.isSet(), false); // reached the owner
    const waiting = lock.acquire();
    owner.kill();
    await assert.rejects(waiting, (err: Error) => err instanceof EOFError && /pid \d+/.test(err.message));
    assert.throws(() => event.set(), EOFError);
    // A put sent ahead to a dead owner is not lost silently: the next call says so.
    queue.putSync(1);
    assert.throws(() => queue.qsize(), EOFError);
    await owner.join();
  });

  it('a client that does not know the authkey is refused before anything is deserialized', { timeout: 30_000 }, async () => {
    const proxy = toProxy(new Event()) as unknown as { _ref: { key: string } };
    const forged = reviveShared(structuredClone({ ...proxy, _ref: { ...proxy._ref, key: '00'.repeat(32) } })) as unknown as Event;
    await assert.rejects(forged.wait(1), AuthenticationError);
  });

  it("the owner's socket lives in a directory only this user can enter", { timeout: 30_000 }, () => {
    const proxy = toProxy(new Lock()) as unknown as { _ref: { addr: string } };
    assert.equal(statSync(dirname(proxy._ref.addr)).mode & 0o777, 0o700);
  });
});
