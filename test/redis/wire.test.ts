// The payload encoding of jobs and results: flat JSON where JSON is exact, a structured clone otherwise.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { decodeValue, encodeValue } from '../../src/redis/wire.js';

const clone = (v: unknown): unknown => deserialize(serialize(v));

it('flat JSON values travel as JSON and come back as a structured clone would give them', () => {
  const flat: unknown[] = [5, 'é\u{1F600}\ud800', true, null, 0, 1.5, [], [1, 'a', null], {}, { a: 1, b: 'x', __proto__x: null }, JSON.parse('{"__proto__": 1}')];
  for (const v of flat) {
    const text = encodeValue(v, 'v');
    assert.ok(text.startsWith('j'), `${JSON.stringify(v)} should go as JSON: ${text}`);
    assert.deepStrictEqual(decodeValue(text), clone(v));
  }
});

it('what JSON would change goes as a structured clone, and comes back as itself', () => {
  const shared = { n: 1 };
  const holes = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const extra = Object.assign([1, 2], { tag: 'x' });
  const withGetter = Object.defineProperty({}, 'g', { get: () => 1, enumerable: true });
  const hidden = Object.defineProperty({ a: 1 }, 'h', { value: 2, enumerable: false });
  const others: unknown[] = [
    undefined, -0, NaN, Infinity, 10n, new Date(0), new Map([[1, 2]]), new Uint8Array([1, 2]),
    [shared, shared], [[1], [2]], { a: { b: 1 } }, holes, extra, Object.create(null), withGetter,
    [undefined], { u: undefined },
  ];
  for (const [i, v] of others.entries()) {
    const text = encodeValue(v, 'v');
    assert.ok(text.startsWith('v'), `value ${i} should go as a structured clone: ${text}`);
    const back = decodeValue(text);
    assert.deepStrictEqual(back, clone(v));
  }
  const pair = decodeValue(encodeValue([shared, shared], 'v')) as Array<{ n: number }>;
  assert.equal(pair[0], pair[1], 'two references to one object stay one object');
  // A non-enumerable property is dropped by both encodings alike.
  assert.deepStrictEqual(decodeValue(encodeValue(hidden, 'v')), { a: 1 });
});

it('an unclonable value is a TypeError naming it; an unknown encoding is refused', () => {
  assert.throws(() => encodeValue([() => 1], 'an argument of task t'), (e) => e instanceof TypeError && /an argument of task t cannot be sent through Redis/.test(e.message));
  assert.throws(() => decodeValue('x[1]'), /not an encoded value \(it starts with "x"\)/);
});
