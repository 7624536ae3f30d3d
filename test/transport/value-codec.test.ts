import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { decodeValue, encodeValue } from '../../src/transport/value-codec.js';

it('encodeValue/decodeValue give back what structured clone would, sharing no memory', () => {
  const buffer = Buffer.alloc(64 * 1024);
  fc.assert(
    fc.property(fc.oneof(fc.double(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.object(), fc.uint8Array()), fc.nat(100), (value, offset) => {
      const n = encodeValue(value, buffer, offset);
      assert.ok(n > 0, 'small values fit');
      const back = decodeValue(buffer, offset, n);
      assert.deepStrictEqual(back, structuredClone(value));
      if (back instanceof Uint8Array && back.length > 0) {
        buffer.fill(0xee, offset, offset + n);
        assert.deepStrictEqual(back, structuredClone(value), 'a decoded typed array must not be a view of the buffer');
      }
    }),
  );
});

it('encodeValue answers -1 when the value does not fit, for every kind', () => {
  const small = Buffer.alloc(16);
  assert.equal(encodeValue('x'.repeat(20), small, 0), -1);
  assert.equal(encodeValue('é'.repeat(8), small, 0), -1); // 16 bytes of UTF-8
  assert.equal(encodeValue({ a: 'long enough to overflow' }, small, 0), -1);
  assert.equal(encodeValue(1.5, small, 8), -1);
  assert.equal(encodeValue(1.5, small, 7), 9);
});

it('a string with a lone surrogate comes back as it was, not with U+FFFD in its place', () => {
  // UTF-8 cannot carry a lone surrogate; structured clone (and so a Pipe) keeps it.
  const buffer = Buffer.alloc(256);
  for (const s of ['\uD800', 'a\uDC00b', '\uDBFF\uD800', 'ok \uD83D\uDE00']) {
    const n = encodeValue(s, buffer, 3);
    assert.equal(decodeValue(buffer, 3, n), s);
  }
});
