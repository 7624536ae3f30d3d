// What tasks do to the command's own output: print on stdout, where the results go.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concur, hostile, jsonLines } from './run-concur.js';

describe('concur map: a task that prints on stdout', () => {
  for (const pool of ['process', 'thread', 'async']) {
    it(`does not corrupt the result lines on the ${pool} pool: its prints go to stderr`, { timeout: 60_000 }, async () => {
      const r = await concur(['map', `${hostile}#chatty`, '--range', '0..5', '--pool', pool, '--workers', '2', '--chunksize', '2']);
      assert.equal(r.code, 0, r.stderr);
      for (const line of r.stdout.trim().split('\n')) assert.match(line, /^\{"line":\d+,"result":\d+\}$/, `stdout has only result lines:\n${r.stdout}`);
      assert.deepEqual(jsonLines(r.stdout).map((o) => o.result), [0, 1, 2, 3, 4]);
      for (let x = 0; x < 5; x++) {
        assert.match(r.stderr, new RegExp(`^chatty says ${x}$`, 'm'));
        assert.match(r.stderr, new RegExp(`^chatty writes ${x}$`, 'm'));
      }
    });
  }
});
