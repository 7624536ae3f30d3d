// The owner's side of a lane reads its calls into one reused buffer and cuts frames out
// of what each read brought: however the bytes are split, the same frames come out, each
// a copy of its own; an empty frame is a ring, not a call; a header announcing too much
// refuses the lane.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Frames } from '../../src/proxy/lane-server.js';

function framed(payloads: Uint8Array[]): Buffer {
  return Buffer.concat(payloads.flatMap((p) => {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(p.length);
    return [head, Buffer.from(p)];
  }));
}

describe('lane frames', () => {
  it('any split of the bytes gives the same frames, each its own copy, and the rings between them', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (payloads, cuts) => {
        const bytes = framed(payloads);
        const got: Buffer[] = [];
        const frames = new Frames(1 << 20, () => assert.fail('refused'));
        frames.onFrame((f) => got.push(f));
        let rings = 0;
        frames.onRing = () => rings++;
        const reused = Buffer.alloc(64);
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const n = Math.min(cuts[i % cuts.length]!, bytes.length - at);
          bytes.copy(reused, 0, at, at + n);
          frames.push(reused, n);
          reused.fill(0xee); // the reader reuses its buffer: frames must not point into it
          at += n;
        }
        const calls = payloads.filter((p) => p.length > 0);
        assert.deepEqual(got.map((f) => [...f]), calls.map((p) => [...p]));
        assert.equal(rings, payloads.length - calls.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('a header announcing more than the limit refuses', () => {
    let refused = 0;
    const frames = new Frames(100, () => refused++);
    frames.onFrame(() => assert.fail('no frame'));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(101);
    frames.push(head, 4);
    assert.equal(refused, 1);
  });
});
