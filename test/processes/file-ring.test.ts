import assert from 'node:assert/strict';
import { closeSync, unlinkSync } from 'node:fs';
import { it } from 'node:test';
import fc from 'fast-check';
import { createRingFile, HEADER_ROOM, MAX_RECORD, nextSeq, RING, RingReader, RingWriter, ringsAvailable } from '../../src/processes/file-ring.js';

it('a ring lane behaves as a FIFO queue of records under any mix of writes and reads', { skip: !ringsAvailable && 'no shared ring files on this machine' }, () => {
  const op = fc.oneof(fc.record({ write: fc.integer({ min: 0, max: MAX_RECORD }) }), fc.constant({ read: true as const }));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const { path, fd } = createRingFile();
      unlinkSync(path);
      try {
        const writer = new RingWriter(fd, 0);
        const reader = new RingReader(fd, 0);
        const model: Array<{ seq: number; fill: number; length: number }> = [];
        const buffer = Buffer.alloc(HEADER_ROOM + MAX_RECORD + 4);
        let seq = 0;
        for (const o of ops) {
          if ('write' in o) {
            const next = nextSeq(seq);
            const fill = next & 255;
            buffer.fill(fill, HEADER_ROOM, HEADER_ROOM + o.write);
            if (writer.tryWrite(next, buffer, o.write)) {
              seq = next;
              model.push({ seq, fill, length: o.write });
            } else {
              // Refused only when the writer cannot know of room: more than a quarter of the ring is unread or unpublished.
              const unread = model.reduce((n, r) => n + r.length + 12, 0);
              assert.ok(unread + o.write + 12 > RING / 2 || o.write + 12 > MAX_RECORD, `refused a ${o.write}-byte record with ${unread} bytes unread`);
            }
          } else {
            const got = reader.tryRead();
            const want = model.shift();
            if (want === undefined) {
              assert.equal(got, undefined);
              continue;
            }
            assert.ok(got !== undefined, `record ${want.seq} was written but not found`);
            assert.equal(got.seq, want.seq);
            assert.equal(got.length, want.length);
            assert.ok(got.bytes.subarray(got.offset, got.offset + got.length).every((b) => b === want.fill));
          }
        }
        // Everything written can be read back, and then the whole ring is free again.
        for (const want of model) assert.equal(reader.tryRead()?.seq, want.seq);
        assert.equal(reader.tryRead(), undefined);
        reader.publish();
        for (let i = 0; i < 3; i++) assert.ok(writer.tryWrite((seq = nextSeq(seq)), buffer, MAX_RECORD - 12));
      } finally {
        closeSync(fd);
      }
    }),
    { numRuns: 200 },
  );
});

// The reader finds its next record by loading a seq word or two; the writer runs in
// another process and can write any number of records between two of those loads
// (a reader taken off the CPU for a moment). Here the writer's records land exactly
// between the reader's loads.
class SteppedReader extends RingReader {
  amid: ((load: number) => void) | undefined;
  #loads = 0;
  override _seqAt(at: number): number {
    const seq = super._seqAt(at);
    this.amid?.(++this.#loads);
    return seq;
  }
  read(): ReturnType<RingReader['tryRead']> {
    this.#loads = 0;
    try {
      return this.tryRead();
    } finally {
      this.amid = undefined;
    }
  }
}

it('a reader loses no record when the writer writes, even a whole lap, between its loads', { skip: !ringsAvailable && 'no shared ring files on this machine' }, () => {
  const size = fc.integer({ min: 0, max: MAX_RECORD });
  const op = fc.oneof(
    fc.record({ write: size }),
    fc.constant({ read: true as const }),
    fc.record({ amid: fc.array(size, { minLength: 1, maxLength: 24 }), afterLoad: fc.integer({ min: 1, max: 3 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const { path, fd } = createRingFile();
      unlinkSync(path);
      try {
        const writer = new RingWriter(fd, 0);
        const reader = new SteppedReader(fd, 0);
        const model: number[] = [];
        const buffer = Buffer.alloc(HEADER_ROOM + MAX_RECORD + 4);
        let seq = 0;
        const write = (length: number): void => {
          const next = nextSeq(seq);
          if (writer.tryWrite(next, buffer, length)) model.push((seq = next));
        };
        const check = (before: number): void => {
          const got = reader.read();
          if (got === undefined) {
            assert.equal(before, 0, `record ${model[0]} was written before the read began but not found`);
            return;
          }
          assert.equal(got.seq, model.shift(), 'records come out in the order written');
        };
        for (const o of ops) {
          if ('write' in o) write(o.write);
          else if ('read' in o) check(model.length);
          else {
            reader.amid = (load) => {
              if (load === o.afterLoad) for (const n of o.amid) write(n);
            };
            check(model.length);
          }
        }
        while (model.length > 0) check(model.length);
        assert.equal(reader.read(), undefined);
      } finally {
        closeSync(fd);
      }
    }),
    { numRuns: 300 },
  );
});
