// pipe.ts and speedup.ts, which start processes of their own, run here so they never rot
// (the pools' examples are in processes.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runExample } from './run-example.js';

describe('examples: a Pipe, and the speedup table', () => {
  it('pipe.ts: a parent and a child talk both ways', async () => {
    const out = await runExample('pipe.ts');
    assert.match(out, /parent got: hello from the child/);
    assert.match(out, /parent got: the child heard: how are you\?/);
    assert.match(out, /parent got: the child heard: what is 6 x 7\?/);
    assert.match(out, /child talker exited with code 0/);
  });

  it('speedup.ts: prints the speedup table', async () => {
    const out = await runExample('speedup.ts', '22', '8');
    assert.match(out, /8 x fib\(22\) on \d+ CPUs/);
    assert.match(out, /\| serial +\| +\d+ \| +1\.00x \|/);
    assert.match(out, /\| 2 processes +\| +\d+ \| +\d+\.\d\dx \|/);
  });
});
