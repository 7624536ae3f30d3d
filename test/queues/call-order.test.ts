// Promise-form puts (or gets) on one SharedQueue that all wait at once, called in a
// row from one thread, are served in the order they were called, as asyncio.Queue's
// putters and getters are: `items.map((x) => q.put(x))` into a full queue delivers the
// items in order, whichever thread or process takes them. A timeout still counts from
// the call, even while earlier calls are ahead of it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Empty, Event, Full, Process, SharedQueue, Thread } from '../../src/index.js';
import { queueOrder } from '../fixtures/queue-order-tasks.js';

const N = 300;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('SharedQueue: waiting Promise forms of one thread go in call order', () => {
  for (const Kind of [Thread, Process]) {
    it(`${N} puts into a queue of maxsize 1 arrive in order at a consumer in a ${Kind.name}`, { timeout: 60_000 }, async () => {
      const q = new SharedQueue<number>({ maxsize: 1 });
      const out = new SharedQueue<number[]>();
      const puts = range(0, N).map((i) => q.put(i));
      const consumer = new Kind({ target: queueOrder.consume, args: [q, N, out] }).start();
      assert.deepEqual(await out.get({ timeout: 30_000 }), range(0, N));
      await Promise.all(puts);
      await consumer.join();
    });

    it(`${N} gets waiting on an empty queue take a ${Kind.name}'s items in order`, { timeout: 60_000 }, async () => {
      const q = new SharedQueue<number>();
      const gets = range(0, N).map(() => q.get());
      const producer = new Kind({ target: queueOrder.produce, args: [q, N] }).start();
      assert.deepEqual(await Promise.all(gets), range(0, N));
      await producer.join();
    });
  }

  // The bounds are for a hang, not for speed: starting the second consumer and handing
  // it 990 items one at a time took over 30 s on a loaded machine.
  it('a consumer process killed mid-way: a new one gets the rest of 1,000 waiting puts, in order', { timeout: 115_000 }, async () => {
    const q = new SharedQueue<number>({ maxsize: 1 });
    const puts = range(0, 1000).map((i) => q.put(i));
    const took = new Event();
    const first = new Process({ target: queueOrder.consumeThenHang, args: [q, 10, took], daemon: true }).start();
    assert.equal(await took.wait(30_000), true);
    first.kill();
    await first.join();
    const out = new SharedQueue<number[]>();
    const second = new Process({ target: queueOrder.consume, args: [q, 990, out] }).start();
    assert.deepEqual(await out.get({ timeout: 80_000 }), range(10, 1000));
    await Promise.all(puts);
    await second.join();
    assert.equal(q.qsize(), 0);
  });

  it('a put or get with a timeout, queued behind one that waits for ever, fails at its own time', { timeout: 30_000 }, async () => {
    const full = new SharedQueue<number>({ maxsize: 1 });
    full.putNowait(0);
    const forever = full.put(1);
    const started = performance.now();
    await assert.rejects(full.put(2, { timeout: 50 }), (e) => e instanceof Full && /after 50 ms/.test(e.message));
    assert.ok(performance.now() - started < 5_000);
    const after = full.put(3);
    assert.equal(await full.get(), 0);
    await forever;
    assert.equal(await full.get(), 1);
    await after;
    assert.equal(await full.get(), 3, 'the put that timed out is not put late');
    const empty = new SharedQueue<number>();
    const waiting = empty.get();
    await assert.rejects(empty.get({ timeout: 50 }), (e) => e instanceof Empty && /within 50 ms/.test(e.message));
    // Its turn come, its wait ran out: the message still names the timeout given.
    await assert.rejects(new SharedQueue().get({ timeout: 30 }), (e) => e instanceof Empty && /within 30 ms/.test(e.message));
    const another = new SharedQueue<number>({ maxsize: 1 });
    another.putNowait(0);
    await assert.rejects(another.put(9, { timeout: 30 }), (e) => e instanceof Full && /after 30 ms/.test(e.message));
    const later = empty.get();
    empty.putNowait(7);
    empty.putNowait(8);
    assert.deepEqual([await waiting, await later], [7, 8]);
  });
});
