// Python orders str by code point; JavaScript's < compares UTF-16 code units, so a
// character above U+FFFF (a surrogate pair, 0xD800-0xDBFF first) sorts before one in
// U+E000-U+FFFF; concur's default ordering compares code points, as the README
// promises for PriorityQueue and SharedPriorityQueue.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PriorityQueue, SharedPriorityQueue } from '../../src/index.js';
import { pythonOrder } from '../../src/queues/order.js';

/** The model: Python's str order, code point by code point. */
function model(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return Math.sign(x.length - y.length);
}

// Python: sorted(['\U0001F600', '\uffff', 'a', '\ue000']) == ['a', '\ue000', '\uffff', '\U0001F600']
const ITEMS = ['\u{1F600}', '\uFFFF', 'a', '\uE000'];
const PYTHON_ORDER = ['a', '\uE000', '\uFFFF', '\u{1F600}'];

describe('priority queues order strings by code point, as Python', () => {
  it('PriorityQueue', () => {
    const q = new PriorityQueue<string>();
    for (const s of ITEMS) q.putNowait(s);
    assert.deepEqual(ITEMS.map(() => q.getNowait()), PYTHON_ORDER);
  });

  it('SharedPriorityQueue', () => {
    const q = new SharedPriorityQueue<string>();
    for (const s of ITEMS) q.putSync(s);
    assert.deepEqual(ITEMS.map(() => q.getNowait()), PYTHON_ORDER);
  });

  it('inside tuples too', () => {
    const q = new SharedPriorityQueue<[string, number]>();
    q.putSync(['\u{1F600}', 1]);
    q.putSync(['\uFFFF', 2]);
    assert.deepEqual(q.getNowait(), ['\uFFFF', 2]);
  });

  it('agrees with code point order for any strings (property)', () => {
    // Well-formed strings, mostly near the surrogate and private-use ranges where the orders differ.
    const char = fc.oneof(fc.constantFrom('a', '\uD7FF', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}', '\u{10FFFF}'), fc.string({ unit: 'grapheme', maxLength: 1 }));
    const str = fc.array(char, { maxLength: 6 }).map((cs) => cs.join(''));
    fc.assert(fc.property(str, str, (a, b) => Math.sign(pythonOrder(a, b)) === model(a, b)), { numRuns: 5000 });
  });
});
