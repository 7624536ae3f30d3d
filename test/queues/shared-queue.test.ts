import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Empty, Event, Full, Lock, QueueShutDown, SharedLifoQueue, SharedPriorityQueue, SharedQueue, Thread, Value } from '../../src/index.js';
import { toProxy } from '../../src/proxy/proxies.js';
import { queueTasks } from '../fixtures/sync-tasks.js';
import { QueueModel, queueOps, type QueueOp } from './queue-model.js';

describe('SharedQueue', () => {
  it('carries numbers, strings and structured-cloned values in FIFO order', async () => {
    const q = new SharedQueue<unknown>();
    const values = [1, -2.5, 'héllo', { a: [1, 2], when: new Date(0) }, new Map([['k', 1]]), null];
    for (const v of values) q.putNowait(v);
    assert.equal(q.qsize(), values.length);
    for (const v of values) assert.deepEqual(await q.get(), v);
    assert.throws(() => q.getNowait(), Empty);
    await assert.rejects(q.get({ timeout: 5 }), Empty);
    assert.throws(() => q.getSync({ timeout: 0 }), Empty);
    assert.throws(() => q.putNowait((() => {}) as unknown), /cannot be put on a SharedQueue/);
  });

  it('carries any string as it was put, lone surrogates included, in every order', () => {
    // The fast path for strings wrote UTF-8, which turns a lone surrogate (half of an
    // emoji, cut by a slice) into U+FFFD: 'a\uD83D' came out as 'a\uFFFD'. A structured
    // clone (and Python's str, pickled) keeps it.
    for (const Q of [SharedQueue, SharedLifoQueue, SharedPriorityQueue]) {
      const q = new Q<string>();
      for (const s of ['a\uD83D', '\uDC00', 'x\uDFFF\uD800y', '\u{1F600}'.slice(0, 1)]) {
        q.putSync(s);
        assert.equal(q.getSync(), s, `${Q.name} changed ${JSON.stringify(s)}`);
      }
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), (s) => {
        const q = new SharedQueue<string>({ capacityBytes: 256 });
        q.putNowait(s);
        assert.equal(q.getNowait(), s);
      }),
    );
  });

  it('an item holding shared memory (a primitive, a view of a SharedArrayBuffer) is refused with a TypeError, not copied', async () => {
    // The clone copied the memory: a Lock came out as a plain object over a private copy
    // of its words (no methods; revived by a proxy's get, a Lock that locks nothing),
    // an Event inside an object likewise, and an Int32Array over a SharedArrayBuffer as
    // a copy that no longer shares (a bare SharedArrayBuffer was already refused).
    // Python's multiprocessing.Queue refuses a Lock too ("Lock objects should only be
    // shared between processes through inheritance").
    const items: Array<[string, () => unknown]> = [
      ['a Lock', () => new Lock()],
      ['an Event in an object', () => ({ ready: new Event() })],
      ['a Value in an array', () => [1, new Value('i32', 3)]],
      ['a view of a SharedArrayBuffer', () => new Int32Array(new SharedArrayBuffer(8))],
    ];
    for (const Q of [SharedQueue, SharedLifoQueue, SharedPriorityQueue]) {
      const q = new Q<unknown>();
      for (const [what, make] of items) {
        if (Q === SharedPriorityQueue && !Array.isArray(make())) continue; // refused first as unorderable
        const item = Q === SharedPriorityQueue ? [0, make()] : make();
        assert.throws(() => q.putNowait(item), (e: Error) => e instanceof TypeError && /shared memory/.test(e.message), `${Q.name}: ${what}`);
        assert.throws(() => q.putSync(item), TypeError, `${Q.name}: ${what}`);
        await assert.rejects(q.put(item), TypeError, `${Q.name}: ${what}`);
        assert.equal(q.qsize(), 0, `${Q.name}: ${what} was put`);
      }
    }
    // A plain ArrayBuffer's view is a value, and is copied as before.
    const q = new SharedQueue<Int32Array>();
    q.putSync(new Int32Array([1, 2]));
    assert.deepEqual(q.getSync(), new Int32Array([1, 2]));
  });

  it('bounds by maxsize and by bytes; a too-large item is refused', async () => {
    const q = new SharedQueue<number>({ maxsize: 2 });
    q.putNowait(1);
    q.putSync(2);
    assert.equal(q.full(), true);
    assert.throws(() => q.putNowait(3), Full);
    await assert.rejects(q.put(3, { timeout: 5 }), Full);
    const small = new SharedQueue<string>({ capacityBytes: 64 });
    assert.throws(() => small.putNowait('x'.repeat(100)), /cannot fit/);
    small.putNowait('a'.repeat(20));
    small.putNowait('b'.repeat(20));
    assert.throws(() => small.putNowait('c'.repeat(20)), Full);
    assert.equal(small.getNowait(), 'a'.repeat(20));
    small.putNowait('c'.repeat(20)); // wraps around the ring
    assert.equal(small.getNowait(), 'b'.repeat(20));
    assert.equal(small.getNowait(), 'c'.repeat(20));
  });

  it('shutdown: puts raise; gets drain then raise; immediate drops the rest; taskDone too many throws', async () => {
    const q = new SharedQueue<number>();
    q.putNowait(1);
    q.shutdown();
    assert.throws(() => q.putNowait(2), QueueShutDown);
    assert.equal(q.getNowait(), 1);
    await assert.rejects(q.get(), QueueShutDown);
    const i = new SharedQueue<number>();
    i.putNowait(1);
    i.putNowait(2);
    i.shutdown({ immediate: true });
    assert.equal(i.qsize(), 0);
    await i.join();
    assert.throws(() => i.taskDone(), /taskDone\(\) called too many times/);
  });

  it('producer and consumer threads with taskDone/join (the JoinableQueue form), bounded', async () => {
    const q = new SharedQueue<number>({ maxsize: 10 });
    const total = new Int32Array(new SharedArrayBuffer(4));
    const consumers = [0, 1].map(() => new Thread({ target: queueTasks.consume, args: [q, total] }).start());
    const producers = [0, 1].map((k) => new Thread({ target: queueTasks.produce, args: [q, k * 1000, 1000] }).start());
    await Promise.all(producers.map((p) => p.join()));
    await q.join(); // every item was marked done by a consumer thread
    assert.equal(Atomics.load(total, 0), (1999 * 2000) / 2);
    q.putSync(-1);
    q.putSync(-1);
    await Promise.all(consumers.map((c) => c.join()));
  });

  it('3 producer and 3 consumer threads over a small ring: every item exactly once, each producer in order', async () => {
    const perProducer = 20_000;
    const q = new SharedQueue<string>({ capacityBytes: 512 });
    const seen = new Int32Array(new SharedArrayBuffer(4 * 3 * perProducer));
    const outOfOrder = new Int32Array(new SharedArrayBuffer(4));
    const consumers = [0, 1, 2].map(() => new Thread({ target: queueTasks.consumeStrings, args: [q, seen, perProducer, outOfOrder] }).start());
    const producers = [0, 1, 2].map((k) => new Thread({ target: queueTasks.produceStrings, args: [q, k * perProducer, perProducer] }).start());
    await Promise.all(producers.map((p) => p.join()));
    for (let i = 0; i < 3; i++) await q.put('stop');
    await Promise.all(consumers.map((c) => c.join()));
    assert.equal(Atomics.load(outOfOrder, 0), 0);
    assert.equal(seen.findIndex((n) => n !== 1), -1);
    assert.equal(q.qsize(), 0);
  });

  // The same property through a proxy: every call goes over the owner's socket and broker
  // thread (this process is the owner), as it does from another process.
  for (const [where, reach, numRuns] of [
    ['here', (q: SharedQueue<number | string>) => q, 200],
    ['through a proxy served by its owner', (q: SharedQueue<number | string>) => toProxy(q, false), 40],
  ] as const) {
    it(`matches an array model under any sequence of puts, gets, taskDone and shutdown (${where})`, async () => {
      await fc.assert(
        fc.asyncProperty(queueOps(fc.oneof(fc.integer(), fc.string({ maxLength: 30 })), 80), fc.integer({ min: 0, max: 5 }), fc.constantFrom(64, 128, 4096), async (ops: QueueOp<number | string>[], maxsize, capacityBytes) => {
          const q = reach(new SharedQueue<number | string>({ maxsize, capacityBytes }));
          const model = new QueueModel<number | string>();
          const sizeOf = (v: number | string): number => 4 + 1 + (typeof v === 'number' ? 8 : Buffer.byteLength(v));
          for (const o of ops) {
            if (o.op === 'put') {
              if (model.shut) assert.throws(() => q.putNowait(o.value), QueueShutDown);
              else {
                try {
                  q.putNowait(o.value);
                  model.put(o.value);
                } catch (e) {
                  // Full by count, or by bytes: the ring wraps records round its end, so
                  // every byte not held is room.
                  if (e instanceof RangeError) {
                    assert.ok(sizeOf(o.value) > capacityBytes, 'only a record larger than the ring is refused outright');
                    continue;
                  }
                  assert.ok(e instanceof Full);
                  const bytes = model.items.reduce((s: number, v) => s + sizeOf(v), 0);
                  assert.ok((maxsize > 0 && model.items.length >= maxsize) || bytes + sizeOf(o.value) > capacityBytes, 'refused only when full');
                }
              }
            } else if (o.op === 'get') {
              if (model.items.length === 0) assert.throws(() => q.getNowait(), model.shut ? QueueShutDown : Empty);
              else assert.deepEqual(q.getNowait(), model.items.shift());
            } else if (o.op === 'done') model.taskDone(q);
            else model.shutdown(q, o.immediate);
            assert.equal(q.qsize(), model.items.length);
          }
        }),
        { numRuns },
      );
    });
  }
});
