import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Empty, Full, LifoQueue, PriorityQueue, Queue, QueueShutDown } from '../../src/index.js';
import { QueueModel, queueOps, type QueueOp } from './queue-model.js';

describe('Queue', () => {
  it('put/get in FIFO order; nowait forms raise Full and Empty; timeouts raise them too', async () => {
    const q = new Queue<number>({ maxsize: 2 });
    assert.equal(q.empty(), true);
    await q.put(1);
    q.putNowait(2);
    assert.equal(q.full(), true);
    assert.equal(q.qsize(), 2);
    assert.throws(() => q.putNowait(3), Full);
    await assert.rejects(q.put(3, { timeout: 5 }), Full);
    assert.equal(await q.get(), 1);
    assert.equal(q.getNowait(), 2);
    assert.throws(() => q.getNowait(), Empty);
    await assert.rejects(q.get({ timeout: 5 }), Empty);
    await assert.rejects(q.get({ timeout: -1 }), RangeError);
  });

  it("a timeout counts from the call: a waiter woken to find the room (or the item) taken again waits only for what is left", async () => {
    // queue.Queue computes one deadline; each wake-up here had restarted the whole
    // timeout, so a put (or get) bounced by others every 30 ms never timed out.
    const bounce = async (step: () => void, settled: () => boolean): Promise<number> => {
      let n = 0;
      while (!settled() && n < 100) {
        await new Promise((r) => setTimeout(r, 30));
        step();
        n++;
      }
      return n;
    };
    const full = new Queue<number>({ maxsize: 1 });
    full.putNowait(0);
    let putDone = false;
    const put = full.put(1, { timeout: 100 }).finally(() => (putDone = true));
    put.catch(() => {});
    const putBounces = await bounce(() => full.putNowait(full.getNowait()), () => putDone);
    await assert.rejects(put, Full);
    assert.ok(putBounces < 100, `the put with a 100 ms timeout was still waiting after ${putBounces} bounces of 30 ms`);

    const empty = new Queue<number>();
    let getDone = false;
    const get = empty.get({ timeout: 100 }).finally(() => (getDone = true));
    get.catch(() => {});
    const getBounces = await bounce(() => { empty.putNowait(7); empty.getNowait(); }, () => getDone);
    await assert.rejects(get, Empty);
    assert.ok(getBounces < 100, `the get with a 100 ms timeout was still waiting after ${getBounces} bounces of 30 ms`);
  });

  it('a waiting getter receives the next put; a waiting putter gets room after a get', async () => {
    const q = new Queue<string>({ maxsize: 1 });
    const got = q.get();
    await q.put('a');
    assert.equal(await got, 'a');
    await q.put('b');
    const putting = q.put('c');
    assert.equal(await q.get(), 'b');
    await putting;
    assert.equal(await q.get(), 'c');
  });

  it('taskDone/join: join waits for every item; one taskDone too many throws', async () => {
    const q = new Queue<number>();
    await q.join();
    q.putNowait(1);
    q.putNowait(2);
    let joined = false;
    const j = q.join().then(() => (joined = true));
    q.getNowait();
    q.taskDone();
    await Promise.resolve();
    assert.equal(joined, false);
    q.getNowait();
    q.taskDone();
    await j;
    assert.equal(joined, true);
    assert.throws(() => q.taskDone(), /taskDone\(\) called too many times/);
  });

  it('shutdown: puts raise at once; gets drain then raise; immediate drops the rest and releases join', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    const waitingPut = new Queue<number>({ maxsize: 1 });
    waitingPut.putNowait(0);
    const blockedPut = waitingPut.put(1);
    waitingPut.shutdown();
    await assert.rejects(blockedPut, QueueShutDown);
    q.shutdown();
    assert.throws(() => q.putNowait(2), QueueShutDown);
    assert.equal(await q.get(), 1);
    await assert.rejects(q.get(), QueueShutDown);

    const r = new Queue<number>();
    const waitingGet = r.get();
    r.shutdown();
    await assert.rejects(waitingGet, QueueShutDown);

    const i = new Queue<number>();
    i.putNowait(1);
    i.putNowait(2);
    const joined = i.join();
    i.shutdown({ immediate: true });
    await joined;
    assert.equal(i.qsize(), 0);
    await assert.rejects(i.get(), QueueShutDown);
  });

  it('async iteration yields until shut down and drained', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    setImmediate(() => {
      q.putNowait(3);
      q.shutdown();
    });
    const seen: number[] = [];
    for await (const x of q) seen.push(x);
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('LifoQueue is last in, first out; PriorityQueue orders numbers, strings, arrays as tuples, or by compare', () => {
    const l = new LifoQueue<number>();
    [1, 2, 3].forEach((x) => l.putNowait(x));
    assert.deepEqual([l.getNowait(), l.getNowait(), l.getNowait()], [3, 2, 1]);
    const p = new PriorityQueue<[number, string]>();
    for (const x of [[2, 'b'], [1, 'z'], [2, 'a'], [0, 'q']] as [number, string][]) p.putNowait(x);
    assert.deepEqual([p.getNowait(), p.getNowait(), p.getNowait(), p.getNowait()], [[0, 'q'], [1, 'z'], [2, 'a'], [2, 'b']]);
    const c = new PriorityQueue<{ at: number }>({ compare: (a, b) => b.at - a.at });
    c.putNowait({ at: 1 });
    c.putNowait({ at: 5 });
    assert.deepEqual(c.getNowait(), { at: 5 });
    const bad = new PriorityQueue<object>();
    bad.putNowait({});
    assert.throws(() => bad.putNowait({}), /cannot order/);
  });

  it('PriorityQueue: a put its ordering refuses puts nothing, and a get never loses an item to a comparison', async () => {
    // The refused item had stayed in the heap uncounted (join resolved with it inside),
    // and the get that then compared it lost the smallest item, throwing instead.
    const q = new PriorityQueue<number | string>();
    q.putNowait(1);
    q.putNowait(2);
    assert.throws(() => q.putNowait('a'), TypeError);
    await assert.rejects(q.put('a'), TypeError);
    assert.equal(q.qsize(), 2);
    assert.deepEqual([q.getNowait(), q.getNowait()], [1, 2]);
    q.taskDone();
    q.taskDone();
    await q.join();
    // Tuples whose first elements differ were ordered at their puts; a get may still have
    // to compare two that tie first and cannot be ordered second. It returns the smallest.
    const t = new PriorityQueue<[number, unknown]>();
    for (const x of [[1, 0], [2, 'x'], [2, 3]] as [number, unknown][]) t.putNowait(x);
    assert.deepEqual(t.getNowait(), [1, 0]);
    const rest = [t.getNowait(), t.getNowait()];
    assert.deepEqual(rest.sort((a, b) => String(a[1]).localeCompare(String(b[1]))), [[2, 3], [2, 'x']]);
    assert.equal(t.qsize(), 0);
  });
});

describe('queues against a model (fast-check)', () => {
  for (const [name, make, order] of [
    ['Queue', (m: number) => new Queue<number>({ maxsize: m }), (xs: number[]) => xs.shift()],
    ['LifoQueue', (m: number) => new LifoQueue<number>({ maxsize: m }), (xs: number[]) => xs.pop()],
    ['PriorityQueue', (m: number) => new PriorityQueue<number>({ maxsize: m }), (xs: number[]) => (xs.sort((a, b) => a - b), xs.shift())],
  ] as const) {
    it(`${name} matches an array model, with bounds, timeouts, taskDone and shutdown`, async () => {
      await fc.assert(
        fc.asyncProperty(queueOps(fc.integer({ min: 0, max: 20 }), 60), fc.integer({ min: 0, max: 4 }), async (list: QueueOp<number>[], maxsize) => {
          const q = make(maxsize);
          const model = new QueueModel<number>();
          for (const o of list) {
            if (o.op === 'put') {
              const full = maxsize > 0 && model.items.length >= maxsize;
              if (model.shut) await assert.rejects(q.put(o.value, { timeout: 0 }), QueueShutDown);
              else if (full) await assert.rejects(q.put(o.value, { timeout: 0 }), Full);
              else {
                await q.put(o.value, { timeout: 0 });
                model.put(o.value);
              }
            } else if (o.op === 'get') {
              if (model.items.length === 0) await assert.rejects(q.get({ timeout: 0 }), model.shut ? QueueShutDown : Empty);
              else assert.equal(await q.get({ timeout: 0 }), order(model.items));
            } else if (o.op === 'done') model.taskDone(q);
            else model.shutdown(q, o.immediate);
            assert.equal(q.qsize(), model.items.length);
            assert.equal(q.empty(), model.items.length === 0);
            assert.equal(q.full(), maxsize > 0 && model.items.length >= maxsize);
          }
        }),
        { numRuns: 150 },
      );
    });
  }
});
