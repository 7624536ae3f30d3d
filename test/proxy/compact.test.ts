// The compact form of calls and replies (lanes use it for primitive values): every value
// it takes comes back as itself, anything else is left to v8, and a malformed frame is
// an error for that call (a RangeError or TypeError), never a crash or another value.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COMPACT, compactReplyFrame, readCompactCall, readCompactReply, writeCompactCall } from '../../src/proxy/compact.js';
import { decodeCall, decodeReply } from '../../src/proxy/protocol.js';

const primitive = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.double(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 5000 }),
);

/** A call frame as a lane sends it: call id, then the compact body (or undefined if it has none). */
function callFrame(objectId: number, op: string, args: unknown[]): Buffer | undefined {
  let buffer = Buffer.alloc(0);
  const n = writeCompactCall((size) => (buffer = Buffer.alloc(size)), 4, objectId, op, args);
  if (n < 0) return undefined;
  buffer.writeUInt32LE(7, 0);
  return buffer.subarray(0, 4 + n);
}

describe('compact frames', () => {
  it('calls of primitives come back as they went (lone surrogates and long strings are left to v8)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.stringMatching(/^[a-zA-Z]{1,20}$/), fc.array(primitive, { maxLength: 16 }), (id, op, args) => {
        const frame = callFrame(id, op, args);
        const lone = args.some((a) => typeof a === 'string' && (!(a as unknown as { isWellFormed(): boolean }).isWellFormed() || a.length > 4096));
        if (frame === undefined) return assert.ok(lone, 'only such strings have no compact form');
        assert.equal(lone, false);
        assert.deepEqual(decodeCall(frame), [id, op, args]);
      }),
      { numRuns: 2000 },
    );
  });

  it('replies of primitives come back as they went; others have no compact form', () => {
    fc.assert(
      fc.property(primitive, fc.constantFrom(0 as const, 1 as const), (value, ok) => {
        const framed = compactReplyFrame(9, ok, value);
        if (framed === undefined) return;
        assert.equal(framed.readUInt32LE(0), framed.length - 4);
        assert.deepEqual(decodeReply(framed.subarray(4)), [ok, value]);
      }),
      { numRuns: 2000 },
    );
    assert.equal(compactReplyFrame(1, 1, { a: 1 }), undefined);
    assert.equal(compactReplyFrame(1, 1, 1n), undefined);
    assert.equal(compactReplyFrame(1, 1, [1]), undefined);
    assert.equal(callFrame(1, 'get', [{}]), undefined);
    assert.equal(callFrame(1, 'gét', []), undefined);
    assert.equal(callFrame(1, 'x'.repeat(65), []), undefined);
    assert.equal(callFrame(1, 'get', Array(17).fill(1)), undefined);
  });

  it('-0 and NaN keep themselves', () => {
    assert.ok(Object.is(decodeCall(callFrame(1, 'set', [-0])!)[2][0], -0));
    assert.ok(Number.isNaN(decodeCall(callFrame(1, 'set', [NaN])!)[2][0]));
  });

  it('malformed bodies are a RangeError or TypeError, whatever their bytes', () => {
    const good = callFrame(3, 'get', ['key', 1, 2.5, true])!;
    for (let cut = 5; cut < good.length; cut++) assert.throws(() => decodeCall(good.subarray(0, cut)), RangeError);
    assert.throws(() => decodeCall(Buffer.concat([good, Buffer.from([0])])), RangeError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        const body = Buffer.concat([Buffer.from([0, 0, 0, 0, COMPACT]), junk]);
        try {
          readCompactCall(body, 4, body.length);
        } catch (err) {
          assert.ok(err instanceof RangeError || err instanceof TypeError, String(err));
        }
        try {
          readCompactReply(body, 4, body.length);
        } catch (err) {
          assert.ok(err instanceof RangeError || err instanceof TypeError, String(err));
        }
      }),
      { numRuns: 5000 },
    );
  });
});
