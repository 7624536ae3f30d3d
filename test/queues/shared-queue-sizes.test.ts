// Records of every size in a SharedQueue's ring: one that fits the ring's capacity goes
// into an empty queue whatever offset the last record left; one larger than the ring is
// refused at once, by every put form, with the sizes in the message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Empty, Full, SharedQueue } from '../../src/index.js';
import { reviveShared } from '../../src/sync/shared.js';
import { forEachRecord } from '../../src/queues/shared-queue.js';

/** A string item whose record ([u32 length][tag][utf-8]) takes exactly `bytes` bytes of the ring. */
const ofRecordBytes = (bytes: number, ch = 'y'): string => ch.repeat(bytes - 5);
const TAIL = 1; // the header word with the byte offset of the next record (src/queues/shared-queue.ts)

/** Puts and gets filler records until the next record starts at `offset` of an empty queue. */
function moveTo(q: SharedQueue<string>, offset: number): void {
  const cap = q._ring.length;
  for (let i = 0; i < 8 && Atomics.load(q._header, TAIL) !== offset; i++) {
    const diff = (offset - Atomics.load(q._header, TAIL) + cap) % cap;
    const filler = ofRecordBytes(Math.min(Math.max(diff, 5), cap >> 1), 'f');
    q.putNowait(filler);
    assert.equal(q.getNowait(), filler);
  }
  assert.equal(Atomics.load(q._header, TAIL), offset, `could not move the ring's offset to ${offset}`);
}

describe('SharedQueue: records of every size', () => {
  it('a record of more than half the ring goes into an empty queue after a small one (the minimal case)', async () => {
    const q = new SharedQueue<string>({ capacityBytes: 64 });
    q.putNowait('abcde');
    assert.equal(q.getNowait(), 'abcde');
    q.putNowait('y'.repeat(50));
    assert.equal(q.getNowait(), 'y'.repeat(50));
    // And a blocking put of the same does not sleep.
    q.putNowait('abcde');
    assert.equal(q.getNowait(), 'abcde');
    await q.put('z'.repeat(50), { timeout: 10_000 });
    assert.equal(q.getSync({ timeout: 0 }), 'z'.repeat(50));
  });

  it('every record size up to the whole ring goes into an empty queue at every ring offset, and comes out intact', () => {
    const cap = 64;
    const q = new SharedQueue<string>({ capacityBytes: cap });
    for (let bytes = 5; bytes <= cap; bytes++) {
      for (let offset = 0; offset < cap; offset++) {
        moveTo(q, offset);
        // Distinct characters, so a record read from the wrong place cannot pass.
        const item = Array.from({ length: bytes - 5 }, (_, i) => String.fromCharCode(97 + ((i + offset) % 26))).join('');
        try {
          q.putNowait(item);
        } catch (err) {
          assert.fail(`a record of ${bytes} bytes at offset ${offset} of an empty ${cap}-byte ring was refused: ${String(err)}`);
        }
        assert.equal(q.qsize(), 1);
        assert.equal(q.getNowait(), item, `record of ${bytes} bytes at offset ${offset}`);
      }
    }
  });

  it('numbers and cloned objects that straddle the ring end come out intact', () => {
    const cap = 64;
    const q = new SharedQueue<unknown>({ capacityBytes: cap });
    const values: unknown[] = [Math.PI, -0, 2 ** 53 + 2, { a: 'x'.repeat(20), b: [1, 2, 3] }, new Map([['k', 'v'.repeat(30)]])];
    for (const v of values) {
      for (let offset = 0; offset < cap; offset++) {
        moveTo(q as SharedQueue<string>, offset);
        q.putNowait(v);
        assert.deepEqual(q.getNowait(), v, `${String(v)} at offset ${offset}`);
      }
    }
  });

  it('a bounded-by-bytes queue takes a record exactly when the bytes held plus its own fit the ring', () => {
    const cap = 100;
    const q = new SharedQueue<string>({ capacityBytes: cap });
    const held: string[] = [];
    let bytes = 0;
    // A deterministic walk of sizes and offsets: puts until refused, then one get.
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 3000; step++) {
      if (next(3) > 0 || held.length === 0) {
        const size = 5 + next(cap - 4);
        const item = ofRecordBytes(size, String.fromCharCode(97 + (step % 26)));
        let took = true;
        try {
          q.putNowait(item);
        } catch (err) {
          assert.ok(err instanceof Full, String(err));
          took = false;
        }
        assert.equal(took, bytes + size <= cap, `a ${size}-byte record with ${bytes} of ${cap} bytes held`);
        if (took) {
          held.push(item);
          bytes += size;
        }
      } else {
        const item = held.shift()!;
        assert.equal(q.getNowait(), item);
        bytes -= item.length + 5;
      }
    }
  });

  it('a blocking put of a large record into a busy ring waits for room and lands once the records ahead are got', async () => {
    const q = new SharedQueue<string>({ capacityBytes: 64 });
    q.putNowait(ofRecordBytes(30, 'a'));
    const big = ofRecordBytes(60, 'b');
    assert.throws(() => q.putNowait(big), Full);
    const put = q.put(big);
    let landed = false;
    void put.then(() => (landed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(landed, false);
    assert.equal(q.getNowait(), ofRecordBytes(30, 'a'));
    await put;
    assert.equal(q.getNowait(), big);
  });

  it('a record larger than the whole ring is refused at once by every put form, naming both sizes', async () => {
    const q = new SharedQueue<string>({ capacityBytes: 64 });
    const big = ofRecordBytes(65);
    const says = (err: unknown): boolean => err instanceof RangeError && /65 bytes/.test(err.message) && /64 bytes/.test(err.message) && /capacityBytes/.test(err.message);
    assert.throws(() => q.putNowait(big), says);
    assert.throws(() => q.putSync(big), says);
    assert.throws(() => q.putSync(big, { timeout: 60_000 }), says);
    await assert.rejects(q.put(big), says);
    await assert.rejects(q.put(big, { timeout: 60_000 }), says);
    // Even with the queue full by count, the size is what is wrong.
    const one = new SharedQueue<string>({ capacityBytes: 64, maxsize: 1 });
    one.putNowait('x');
    await assert.rejects(one.put(big), says);
    assert.equal(q.qsize(), 0);
    // A record of exactly the ring's size fits.
    q.putNowait(ofRecordBytes(64));
    assert.equal(q.getNowait(), ofRecordBytes(64));
  });

  it('capacityBytes out of range is refused with its value', () => {
    assert.throws(() => new SharedQueue({ capacityBytes: 63 }), /capacityBytes must be an integer >= 64.*63/);
    assert.throws(() => new SharedQueue({ capacityBytes: 2 ** 31 }), /capacityBytes.*2147483648/);
  });

  it('whole records straddling the ring end come out of a batch take (a proxy outbox) intact and in order', () => {
    const cap = 64;
    const q = new SharedQueue<string>({ capacityBytes: cap });
    for (let offset = 0; offset < cap; offset++) {
      moveTo(q, offset);
      const items = [ofRecordBytes(20, 'a'), ofRecordBytes(17, 'b'), ofRecordBytes(25, 'c')];
      for (const it of items) q.putNowait(it);
      const out: string[] = [];
      for (let taken = q._takeRecords(1 << 20); taken !== null; taken = q._takeRecords(1 << 20)) {
        forEachRecord(taken.bytes, (r) => out.push(new TextDecoder().decode(r.subarray(1))));
      }
      assert.deepEqual(out, items, `offset ${offset}`);
      assert.equal(q.qsize(), 0);
    }
  });
});

describe('SharedQueue: counters that wrap', () => {
  // Header words (src/queues/shared-queue.ts).
  const W = { TAIL: 1, PUT_BYTES: 2, PUT_EPOCH: 3, PUT_COUNT: 32, HEAD: 65, GET_EPOCH: 66, GET_COUNT: 96, GET_BYTES: 97 };
  /** The true (unwrapped) totals so far: the header keeps them mod 2^32. */
  const totals = new WeakMap<SharedQueue<unknown>, { bytes: number; records: number }>();
  /**
   * Sets the header as `records` puts and gets of `recordBytes` each, from another
   * thread, would leave it (the queue empty before and after): running them for real
   * would take gigabytes of copying.
   */
  function traffic(q: SharedQueue<unknown>, records: number, recordBytes: number): void {
    const h = q._header;
    const t = totals.get(q) ?? { bytes: 0, records: 0 };
    const epochs = Math.floor((t.bytes + records * recordBytes) / 2 ** 30) - Math.floor(t.bytes / 2 ** 30);
    t.bytes += records * recordBytes;
    t.records += records;
    totals.set(q, t);
    for (const [at, v] of [[W.PUT_BYTES, t.bytes], [W.GET_BYTES, t.bytes], [W.PUT_COUNT, t.records], [W.GET_COUNT, t.records]] as const) h[at] = Number(BigInt.asIntN(32, BigInt(v)));
    h[W.PUT_EPOCH] = (h[W.PUT_EPOCH]! + epochs) | 0;
    h[W.GET_EPOCH] = (h[W.GET_EPOCH]! + epochs) | 0;
    h[W.HEAD] = h[W.TAIL] = t.bytes % q._ring.length;
  }
  /** The same queue as another thread holds it: its own cached view of the other side's counters. */
  const otherThread = <T>(q: SharedQueue<T>): SharedQueue<T> => reviveShared(structuredClone(q));

  it("a putter idle while 2^32 bytes went through does not trust its stale view of the getters' counters", () => {
    const q = new SharedQueue<unknown>({ capacityBytes: 64 });
    const a = otherThread(q);
    a.putNowait('x'.repeat(5)); // a's view of the getters: nothing got yet
    assert.equal(q.getNowait(), 'x'.repeat(5));
    totals.set(q, { bytes: 10, records: 1 });
    traffic(q, 1, 2 ** 32 - 40); // as many small records would: 2^32 - 30 bytes in all
    q.putNowait('b'.repeat(55)); // 60 bytes held of 64
    // a's stale view says 60 - 2^32 + 30 bytes are held: 30, room for a 10-byte record.
    assert.throws(() => a.putNowait('a'.repeat(5)), Full);
    assert.equal(q.getNowait(), 'b'.repeat(55));
    a.putNowait('a'.repeat(5));
    assert.equal(q.getNowait(), 'a'.repeat(5));
  });

  it('a getter idle while 2^31 records went through does not trust its stale view of the put count', () => {
    const q = new SharedQueue<unknown>({ capacityBytes: 64 });
    const a = otherThread(q);
    q.putNowait(1);
    assert.equal(a.getNowait(), 1); // a's view of the put count: 1
    totals.set(q, { bytes: 13, records: 1 });
    traffic(q, 2 ** 31 + 5, 13);
    // a's stale view says 1 - (2^31 + 6) records are left: wrapped, 2^31 - 5 of them.
    assert.throws(() => a.getNowait(), Empty);
    q.putNowait(2);
    assert.equal(a.getNowait(), 2);
  });

  it('a bounded putter idle while 2^32 records went through does not trust its stale view of the get count', () => {
    const q = new SharedQueue<unknown>({ capacityBytes: 1024, maxsize: 2 });
    const a = otherThread(q);
    a.putNowait(1);
    assert.equal(q.getNowait(), 1);
    totals.set(q, { bytes: 13, records: 1 });
    traffic(q, 2 ** 32 - 2, 5); // 2^32 - 1 records got in all
    q.putNowait(2);
    q.putNowait(3);
    // a's stale view says 2^32 + 1 - 0 records are held: wrapped, 1 of 2.
    assert.throws(() => a.putNowait(4), Full);
    assert.equal(q.qsize(), 2);
  });
});
