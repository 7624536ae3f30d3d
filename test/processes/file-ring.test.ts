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
