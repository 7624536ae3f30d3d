// Items 7 and 8 of issue 11: a result that cannot be written as JSON, or cannot be sent
// back from a worker, fails that item alone; the rest run and the summary prints.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concur, hostile, jsonLines } from './run-concur.js';

describe('concur map: results JSON cannot encode', () => {
  it('a BigInt at item 50 of 1,000 fails that item (line 51) with the reason; the other 999 are written', { timeout: 90_000 }, async () => {
    const r = await concur(['map', `${hostile}#bigintAt50`, '--range', '0..1000', '--pool', 'thread', '--workers', '2']);
    assert.equal(r.code, 1, r.stderr);
    const out = jsonLines(r.stdout);
    assert.equal(out.length, 1000);
    assert.deepEqual(out.map((o) => o.line), Array.from({ length: 1000 }, (_, i) => i + 1));
    assert.match(out[50]!.error!, /cannot be written as JSON: .*BigInt/);
    assert.equal(out.filter((o) => 'error' in o).length, 1);
    assert.deepEqual(out[999], { line: 1000, result: 999 });
    assert.match(r.stderr, /failed: line 51: .*BigInt/);
    assert.match(r.stderr, /1000 items, 1 failed/);
    assert.doesNotMatch(r.stderr, /    at /); // no stack trace
  });

  for (const pool of ['process', 'async']) {
    it(`a circular result fails its item alone on the ${pool} pool`, { timeout: 90_000 }, async () => {
      const r = await concur(['map', `${hostile}#circularAt5`, '--range', '0..10', '--pool', pool, '--workers', '2', '--chunksize', '10']);
      assert.equal(r.code, 1, r.stderr);
      const out = jsonLines(r.stdout);
      assert.equal(out.length, 10);
      assert.match(out[5]!.error!, /cannot be written as JSON: .*circular/);
      assert.deepEqual(out.filter((o) => 'result' in o).map((o) => o.result), [0, 1, 2, 3, 4, 6, 7, 8, 9]);
      assert.match(r.stderr, /10 items, 1 failed/);
    });
  }
});

describe('concur map: results a worker cannot send back', () => {
  for (const pool of ['process', 'thread', 'async']) {
    it(`a function among 10 items of one chunk fails that item only, on the ${pool} pool`, { timeout: 90_000 }, async () => {
      const r = await concur(['map', `${hostile}#functionAt5`, '--range', '0..10', '--pool', pool, '--workers', '2', '--chunksize', '10']);
      assert.equal(r.code, 1, r.stderr);
      const out = jsonLines(r.stdout);
      assert.equal(out.length, 10);
      // every line is a result or an error: none may lose its value silently
      for (const o of out) assert.ok('result' in o !== 'error' in o, JSON.stringify(o));
      assert.deepEqual(out.filter((o) => 'error' in o).map((o) => o.line), [6]);
      assert.match(out[5]!.error!, /cannot be written as JSON: it is a function/);
      assert.match(r.stderr, /10 items, 1 failed/);
    });
  }
});
