// The examples that start processes (and pools of them) run here, so none of them rots;
// the tutorials' multiprocessing programs (ticket sale, Manager, Pool) in
// multiprocessing.test.ts, the others in threads.test.ts, the Redis one in redis.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runExample } from './run-example.js';

describe('examples: processes', () => {
  for (const kind of ['process', 'thread']) {
    it(`pools.ts ${kind}: ten tasks, one by one and all at once`, async () => {
      const out = await runExample('pools.ts', kind);
      assert.match(out, /^one by one: 0 1 4 9 16 25 36 49 64 81 in \d+ ms$/m);
      assert.match(out, /^all at once: 0 1 4 9 16 25 36 49 64 81 in \d+ ms$/m);
    });
  }

  it('pipe.ts: a parent and a child talk both ways', async () => {
    const out = await runExample('pipe.ts');
    assert.match(out, /parent got: hello from the child/);
    assert.match(out, /parent got: the child heard: how are you\?/);
    assert.match(out, /parent got: the child heard: what is 6 x 7\?/);
    assert.match(out, /child talker exited with code 0/);
  });

  for (const kind of ['processes', 'threads']) {
    it(`producer-consumer.ts ${kind}: a bounded SharedQueue, and taskDone/join`, async () => {
      const out = await runExample('producer-consumer.ts', kind);
      assert.match(out, new RegExp(`^joined: all 300 items processed by ${kind}$`, 'm'));
      assert.match(out, /^sum 44850 \(expected 44850\); queue empty: true$/m);
      const taken = [...out.matchAll(/consumer-\d took (\d+) items/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      assert.equal(taken, 300);
    });
  }

  it('speedup.ts: prints the speedup table', async () => {
    const out = await runExample('speedup.ts', '22', '8');
    assert.match(out, /8 x fib\(22\) on \d+ CPUs/);
    assert.match(out, /\| serial +\| +\d+ \| +1\.00x \|/);
    assert.match(out, /\| 2 processes +\| +\d+ \| +\d+\.\d\dx \|/);
  });
});
