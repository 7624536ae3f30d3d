import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { Empty, Full, ProcessPoolExecutor, QueueShutDown, SharedLifoQueue, SharedPriorityQueue, SharedQueue, Thread, ThreadPoolExecutor, TimeoutError } from '../../src/index.js';
import { toProxy } from '../../src/proxy/proxies.js';
import { encode } from '../../src/queues/shared-queue.js';
import { pythonOrder } from '../../src/queues/order.js';
import { orderedQueueTasks } from '../fixtures/ordered-queue-tasks.js';
import { stopTasks } from '../fixtures/stop-tasks.js';
import { queueOps, type QueueOp } from './queue-model.js';

type Item = number | string | Array<number | string>;
/** Bytes an item takes in the queue's memory: its record and a 4-byte length. */
const sizeOf = (v: unknown): number => 4 + encode(v).length;
/**
 * The same, for an item that reached the owner in a proxy call: v8.serialize writes an
 * array that was deserialized in a longer form than a literal one, so its record is a
 * few bytes longer there.
 */
const sizeAtOwner = (v: unknown): number => sizeOf((deserialize(serialize([v])) as unknown[])[0]);

/** The array model: LIFO takes the last; priority the smallest, the first put among equals. */
function takeFrom(items: Item[], order: 'lifo' | 'priority'): Item {
  if (order === 'lifo') return items.pop()!;
  let best = 0;
  for (let i = 1; i < items.length; i++) if (pythonOrder(items[i], items[best]) < 0) best = i;
  return items.splice(best, 1)[0]!;
}

const make = (order: 'lifo' | 'priority', options: { maxsize?: number; capacityBytes?: number }): SharedQueue<Item> =>
  order === 'lifo' ? new SharedLifoQueue<Item>(options) : new SharedPriorityQueue<Item>(options);

// Items of one family per history: the default ordering refuses mixes (tested below).
const families = {
  numbers: fc.oneof(fc.integer({ min: -20, max: 20 }), fc.double({ noNaN: true, min: -1e6, max: 1e6 })),
  strings: fc.string({ maxLength: 12 }),
  tuples: fc.tuple(fc.integer({ min: 0, max: 4 }), fc.string({ maxLength: 8 })),
} as const;

describe('SharedLifoQueue and SharedPriorityQueue', () => {
  for (const order of ['lifo', 'priority'] as const) {
    for (const [where, reach, numRuns, size] of [
      ['here', <T>(q: T): T => q, 150, sizeOf],
      ['through a proxy served by its owner', <T>(q: T): T => toProxy(q), 25, sizeAtOwner],
    ] as const) {
      it(`${order}: matches an array model under any sequence of puts, gets, taskDone and shutdown (${where})`, async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...(Object.keys(families) as Array<keyof typeof families>)).chain((family) =>
              fc.tuple(queueOps(families[family] as fc.Arbitrary<Item>, 60), fc.integer({ min: 0, max: 5 }), fc.constantFrom(64, 128, 4096)),
            ),
            async ([ops, maxsize, capacityBytes]: [QueueOp<Item>[], number, number]) => {
              const q = reach(make(order, { maxsize, capacityBytes }));
              const items: Item[] = [];
              let unfinished = 0;
              let shut = false;
              for (const o of ops) {
                if (o.op === 'put') {
                  if (shut) {
                    assert.throws(() => q.putNowait(o.value), QueueShutDown);
                    continue;
                  }
                  const bytes = items.reduce((s: number, v) => s + size(v), 0);
                  const room = (maxsize <= 0 || items.length < maxsize) && bytes + size(o.value) <= capacityBytes;
                  if (size(o.value) > capacityBytes) assert.throws(() => q.putNowait(o.value), /cannot fit/);
                  else if (!room) assert.throws(() => q.putNowait(o.value), Full);
                  else {
                    q.putNowait(o.value);
                    items.push(o.value);
                    unfinished++;
                  }
                } else if (o.op === 'get') {
                  if (items.length === 0) assert.throws(() => q.getNowait(), shut ? QueueShutDown : Empty);
                  else assert.deepEqual(q.getNowait(), takeFrom(items, order));
                } else if (o.op === 'done') {
                  if (unfinished === 0) assert.throws(() => q.taskDone(), RangeError);
                  else {
                    q.taskDone();
                    unfinished--;
                  }
                } else {
                  q.shutdown({ immediate: o.immediate });
                  shut = true;
                  if (o.immediate) {
                    unfinished = Math.max(0, unfinished - items.length);
                    items.length = 0;
                  }
                }
                assert.equal(q.qsize(), items.length);
              }
            },
          ),
          { numRuns },
        );
      });
    }
  }

  it('priority: an item the default ordering cannot order with the others is refused with a TypeError, and nothing is put', async () => {
    const q = new SharedPriorityQueue<unknown>();
    q.putNowait(2);
    q.putNowait(10n); // a bigint orders with numbers, as Python's int with float
    assert.throws(() => q.putNowait('x'), (e: unknown) => e instanceof TypeError && /cannot order "x" \(string\) and .*\(number|bigint\)/.test(e.message));
    assert.throws(() => q.putSync([1, 'a']), TypeError);
    await assert.rejects(q.put({ priority: 1 }), (e: unknown) => e instanceof TypeError && /cannot be ordered \(put \[priority, item\] pairs\)/.test(e.message));
    assert.throws(() => q.putNowait(null), TypeError);
    assert.equal(q.qsize(), 2);
    assert.deepEqual([q.getNowait(), q.getNowait()], [2, 10n]);
    // Pairs order by their first element; the second is compared only on a tie.
    const pairs = new SharedPriorityQueue<[number, unknown]>();
    pairs.putNowait([2, { job: 'b' }]);
    pairs.putNowait([1, { job: 'a' }]);
    assert.deepEqual(pairs.getNowait(), [1, { job: 'a' }]);
    assert.throws(() => pairs.putNowait([2, { job: 'c' }]), /cannot order/);
    assert.equal(pairs.qsize(), 1);
  });

  it('an item of the whole capacity goes into an empty stack after any history; a larger one is refused at once', async () => {
    for (const q of [new SharedLifoQueue<string>({ capacityBytes: 64 }), new SharedPriorityQueue<string>({ capacityBytes: 64 })]) {
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i <= round % 4; i++) q.putNowait('s'.repeat((round * 7 + i) % 9));
        while (!q.empty()) q.getNowait();
        const whole = 'w'.repeat(64 - 5); // [tag][59 bytes] and its 4-byte index entry
        await q.put(whole, { timeout: 10_000 });
        assert.equal(q.getNowait(), whole);
        assert.throws(() => q.putNowait(whole + 'x'), (e: unknown) => e instanceof RangeError && /65 bytes.*64 bytes \(capacityBytes\)/.test(e.message));
      }
    }
  });

  it('priority: a compare option is refused with the reason', () => {
    assert.throws(
      () => new SharedPriorityQueue({ compare: ((a: number, b: number) => a - b) as never }),
      (e: unknown) => e instanceof TypeError && /no compare function: a function cannot cross into another thread or process/.test(e.message),
    );
  });

  it('priority: equal items come out in the order they were put', () => {
    // 0 and -0, 1 and 1n are equal to the ordering and still told apart here.
    const q = new SharedPriorityQueue<unknown>();
    const put = [1, 0, -0, 1n, 0, -0, [0, 'x'], 1n, 1];
    const numbers = put.filter((x) => !Array.isArray(x));
    for (const x of numbers) q.putNowait(x);
    const out = Array.from({ length: numbers.length }, () => q.getNowait());
    assert.deepEqual(
      out.map((x) => (Object.is(x, -0) ? '-0' : `${String(x)}${typeof x === 'bigint' ? 'n' : ''}`)),
      ['0', '-0', '0', '-0', '1', '1n', '1n', '1'],
    );
  });

  it('a blocking get sleeps until a put; a full queue blocks the put until a get (LIFO and priority)', async () => {
    for (const q of [new SharedLifoQueue<number>({ maxsize: 1 }), new SharedPriorityQueue<number>({ maxsize: 1 })]) {
      const got = q.get({ timeout: 30_000 });
      q.putNowait(5);
      assert.equal(await got, 5);
      q.putNowait(1);
      const put = q.put(2, { timeout: 30_000 });
      assert.equal(q.getNowait(), 1);
      await put;
      assert.equal(q.getNowait(), 2);
      await assert.rejects(q.put(3, { timeout: 1 }).then(() => q.put(4, { timeout: 1 })), Full);
    }
  });

  it('across threads: a thread sees the same class; what a thread puts comes out in order here, and the other way', async () => {
    const cases: Array<[SharedQueue<Item>, Item[], Item[]]> = [
      [new SharedLifoQueue<Item>({ capacityBytes: 256 }), [1, 2, 3, 4, 5], [5, 4, 3, 2, 1]],
      [new SharedPriorityQueue<Item>({ capacityBytes: 4096 }), [[3, 'c'], [1, 'a'], [2, 'b'], [1, 'a']], [[1, 'a'], [1, 'a'], [2, 'b'], [3, 'c']]],
    ];
    for (const [q, items, expected] of cases) {
      const t = new Thread({ target: orderedQueueTasks.putAll, args: [q, items] }).start();
      await t.join();
      assert.equal(t.exitCode, 0);
      assert.deepEqual(Array.from({ length: items.length }, () => q.getNowait()), expected);
      for (let i = 0; i < items.length; i++) q.taskDone();
      await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
      assert.equal(await pool.submit(orderedQueueTasks.kindHere, q).result(), q.constructor.name);
      for (const x of items) q.putNowait(x);
      assert.deepEqual(await pool.submit(orderedQueueTasks.getAll, q, items.length).result(), expected);
      await q.join(); // each got item was marked done in the thread
    }
  });

  it('across processes: the owner keeps the order; a refused item is refused in the other process too', { timeout: 180_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const prio = new SharedPriorityQueue<Item>({ maxsize: 3 });
    // Bounded: the child's puts wait for room, so this side takes the smallest of what is there.
    const put = pool.submit(orderedQueueTasks.putAll, prio, [9, 4, 7, 1, 8, 2]);
    const seen: Item[] = [];
    while (seen.length < 6) seen.push(await prio.get({ timeout: 60_000 }));
    await put.result();
    assert.deepEqual([...seen].sort((a, b) => pythonOrder(a, b)), [1, 2, 4, 7, 8, 9]);
    for (const x of [5, 3, 6]) prio.putNowait(x);
    assert.deepEqual(await pool.submit(orderedQueueTasks.getAll, prio, 3).result(), [3, 5, 6]);
    prio.putNowait(1);
    assert.match(await pool.submit(orderedQueueTasks.putRefused, prio, 'one', 30_000).result(), /^TypeError: cannot order "one" \(string\) and 1 \(number\)/);
    assert.equal(prio.qsize(), 1);
    // Into an unbounded queue a put does not wait for the owner: an item no ordering can take is refused at once.
    const unbounded = new SharedPriorityQueue<unknown>();
    assert.match(await pool.submit(orderedQueueTasks.putRefused, unbounded, { job: 1 }).result(), /^TypeError: .*cannot be ordered/);
    assert.equal(unbounded.qsize(), 0);
    const lifo = new SharedLifoQueue<Item>();
    for (const x of ['a', 'b', 'c']) lifo.putNowait(x);
    assert.deepEqual(await pool.submit(orderedQueueTasks.getAll, lifo, 3).result(), ['c', 'b', 'a']);
    await pool.submit(orderedQueueTasks.putAll, lifo, ['x', 'y']).result();
    assert.deepEqual([lifo.getNowait(), lifo.getNowait()], ['y', 'x']);
  });

  it('a thread stopped mid-operation never leaves the one lock of a priority stack held', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const q = new SharedPriorityQueue<number>({ capacityBytes: 256 });
    for (let round = 0; round < 10; round++) {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const f = pool.submitWith({ timeout: 20 + (round % 7) }, stopTasks.churnQueue, q as unknown as SharedQueue<number>, flag);
      await assert.rejects(f.result(), TimeoutError);
      assert.equal(Atomics.load(q._header, 0), 0, `round ${round}: the lock was left held`);
      while (!q.empty()) assert.equal(q.getNowait(), 1); // what the task put before it was stopped
      q.putNowait(3);
      q.putNowait(2);
      assert.deepEqual([q.getNowait(), q.getNowait()], [2, 3]);
    }
  });
});
