import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { inspect, isDeepStrictEqual } from 'node:util';
import { decodeValue, encodeValue, ValueReader, valueSize, writeValue, type ValueCodecOptions } from '../../src/transport/value-codec.js';
import { COMPACT_VALUES } from '../../src/proxy/compact.js';
import { RING_VALUES } from '../../src/processes/relay-endpoint.js';

// One codec serves two callers with their own options: each must get back exactly what
// structured clone would give, and refuse (so the caller takes v8's road) exactly the
// values its options leave out.
// Each with what it must take, written out here, so that the options are checked too.
const CALLERS: Array<[string, ValueCodecOptions, ValueCodecOptions]> = [
  ['the proxy lanes (COMPACT_VALUES)', COMPACT_VALUES, { maxString: 4096, clone: false }],
  ['the Pipe ring (RING_VALUES)', RING_VALUES, { maxString: Infinity, clone: true }],
];

const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)); // lone surrogates too
const value = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.constantFrom(2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, -0, NaN, Infinity, -Infinity),
  fc.double(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: anyUnit, maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(4095, 4096, 4097).map((n) => 'k'.repeat(n)),
  fc.string({ minLength: 4000, maxLength: 5000 }),
  fc.bigInt(),
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true }),
);

/** Whether `options` leave `v` without a form of its own (then it is cloned or refused). */
function noOwnForm(v: unknown, options: ValueCodecOptions): boolean {
  if (typeof v === 'string') return v.length > options.maxString || !(v as unknown as { isWellFormed(): boolean }).isWellFormed();
  return !(v === undefined || v === null || typeof v === 'boolean' || typeof v === 'number');
}

describe('the value codec', () => {
  for (const [caller, options, expected] of CALLERS) {
    it(`for ${caller}: what it takes comes back as structured clone gives it, what it leaves out is refused`, () => {
      const buffer = Buffer.alloc(256 * 1024);
      fc.assert(
        fc.property(value, fc.nat(100), (v, offset) => {
          const size = valueSize(v, options);
          const n = encodeValue(v, buffer, offset, options);
          const own = !noOwnForm(v, expected);
          assert.equal(size >= 0, own, 'valueSize accepts exactly the values with a form of their own');
          if (!own && !expected.clone) return assert.equal(n, -1, 'refused');
          assert.ok(n > 0, 'a value that fits is written');
          if (own) assert.ok(n <= size, 'valueSize bounds what it takes');
          const back = decodeValue(buffer, offset, n, options);
          // Some values do not compare equal even to their own clone (a Map keyed by an
          // Invalid Date: deepStrictEqual matches object keys by an equality NaN fails);
          // for those only the shape is checked.
          if (isDeepStrictEqual(structuredClone(v), structuredClone(v))) assert.deepStrictEqual(back, structuredClone(v));
          else assert.equal(inspect(back, { depth: Infinity }), inspect(structuredClone(v), { depth: Infinity }));
          // Where the room ends decides too: one byte short is "no room", never a cut value.
          assert.equal(encodeValue(v, buffer.subarray(0, offset + n - 1), offset, options), -1);
          assert.equal(encodeValue(v, buffer.subarray(0, offset + n), offset, options), n);
          if (back instanceof Uint8Array && back.length > 0) {
            buffer.fill(0xee, offset, offset + n);
            assert.deepStrictEqual(back, structuredClone(v), 'a decoded typed array must not be a view of the buffer');
          }
        }),
        { numRuns: 3000 },
      );
    });

    it(`for ${caller}: values written one after another read back in order, and a cut is a RangeError`, () => {
      fc.assert(
        fc.property(fc.array(value, { maxLength: 16 }), (values) => {
          const own = values.filter((v) => valueSize(v, options) >= 0);
          const size = own.reduce((s: number, v) => s + valueSize(v, options), 0);
          const out = Buffer.alloc(size + 3);
          let at = 3;
          for (const v of own) at = writeValue(out, at, v);
          const r = new ValueReader(out, 3, at, options);
          assert.deepStrictEqual(
            own.map(() => r.value()),
            own.map((v) => structuredClone(v)),
          );
          assert.equal(r.at, at);
          if (own.length > 0) {
            const cut = new ValueReader(out, 3, at - 1, options);
            assert.throws(() => own.forEach(() => cut.value()), RangeError);
          }
        }),
        { numRuns: 1000 },
      );
    });
  }

  it('the proxy lanes refuse a clone the ring would write, and read none', () => {
    const buffer = Buffer.alloc(8192);
    for (const v of [{ a: 1 }, [1], 1n, new Uint8Array(3), 'a\uD800', 'k'.repeat(4097)]) {
      assert.equal(encodeValue(v, buffer, 0, COMPACT_VALUES), -1);
      const n = encodeValue(v, buffer, 0, RING_VALUES);
      assert.ok(n > 0, 'the ring writes it');
      if (noOwnForm(v, RING_VALUES)) assert.throws(() => decodeValue(buffer, 0, n, COMPACT_VALUES), TypeError);
    }
  });

  it('malformed bytes are a RangeError or TypeError, whatever they are', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(...CALLERS), (junk, [, options]) => {
        try {
          decodeValue(Buffer.from(junk), 0, junk.length, options);
        } catch (err) {
          // A clone's bytes are v8's: its deserializer's errors are plain Errors.
          if (options.clone && junk[0] === 7) return;
          assert.ok(err instanceof RangeError || err instanceof TypeError, String(err));
        }
      }),
      { numRuns: 5000 },
    );
  });
});

it('encodeValue answers -1 when the value does not fit, for every kind', () => {
  const small = Buffer.alloc(16);
  assert.equal(encodeValue('x'.repeat(20), small, 0, RING_VALUES), -1);
  assert.equal(encodeValue('é'.repeat(6), small, 0, RING_VALUES), -1); // 12 bytes of UTF-8 after a 5-byte head
  assert.equal(encodeValue({ a: 'long enough to overflow' }, small, 0, RING_VALUES), -1);
  assert.equal(encodeValue(1.5, small, 8, RING_VALUES), -1);
  assert.equal(encodeValue(1.5, small, 7, RING_VALUES), 9);
  assert.equal(encodeValue('é'.repeat(5), small, 1, RING_VALUES), 15); // over its bound of 3 bytes a unit, but it fits
});

it('a string with a lone surrogate comes back as it was, not with U+FFFD in its place', () => {
  // UTF-8 cannot carry a lone surrogate; structured clone (and so a Pipe) keeps it.
  const buffer = Buffer.alloc(256);
  for (const s of ['\uD800', 'a\uDC00b', '\uDBFF\uD800', 'ok \uD83D\uDE00']) {
    const n = encodeValue(s, buffer, 3, RING_VALUES);
    assert.equal(decodeValue(buffer, 3, n, RING_VALUES), s);
  }
});
