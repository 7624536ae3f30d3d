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

it('a job reads back as it was signed, every field covered by its signature', async () => {
  const { checkJob, makeJob, makeResult, readResult, FORMAT } = await import('../../src/redis/wire.js');
  const key = Buffer.from('k'.repeat(32));
  const module = { kind: 'module', path: 'lib/tasks.js', package: '', name: 'f' } as const;
  const inline = { kind: 'inline', source: '(a) => a', name: 'g' } as const;
  for (const [task, mode, timeout] of [[module, 0, null], [inline, 2, 1500]] as const) {
    const data = makeJob(key, 'q', 'e-1', task, mode, 'j[1]', timeout);
    assert.deepEqual(JSON.parse(JSON.stringify(checkJob(key, 'q', 'e-1', JSON.parse(JSON.stringify(data))))), { task, mode, args: 'j[1]', timeout });
    for (const change of [{ n: 'h' }, { a: 'j[2]' }, { m: 1 }, { t: 5 }, { p: 'lib/other.js' }, { k: 'pkg' }]) {
      const changed = task.kind === 'inline' && ('p' in change || 'k' in change) ? { ...data, i: 'other' } : { ...data, ...change };
      assert.match(String(checkJob(key, 'q', 'e-1', changed)), /not signed with this worker's key/, JSON.stringify(change));
    }
    assert.match(String(checkJob(key, 'q', 'e-2', data)), /not signed/);
  }
  const result = makeResult(key, 'q', 'e-1', 'j2');
  assert.deepEqual(readResult(key, 'q', 'e-1', JSON.parse(JSON.stringify(result)), 'f'), { ok: true, value: 2 });
  const old = readResult(key, 'q', 'e-1', { concur: FORMAT - 1, value: 'j2', sig: 'x' }, 'f');
  assert.ok(!old.ok && new RegExp(`its result has format version ${FORMAT - 1}; this executor reads version ${FORMAT}`).test(String(old.error)));
});
