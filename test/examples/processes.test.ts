// The examples that start pools of processes run here, so none of them rots; pipe.ts and
// speedup.ts in process-programs.test.ts (each file has its own time budget), the
// tutorials' multiprocessing programs in multiprocessing.test.ts and manager.test.ts, the
// others in threads.test.ts, the Redis one in redis.test.ts.
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

  for (const kind of ['processes', 'threads']) {
    it(`producer-consumer.ts ${kind}: a bounded SharedQueue, and taskDone/join`, async () => {
      const out = await runExample('producer-consumer.ts', kind);
      assert.match(out, new RegExp(`^joined: all 300 items processed by ${kind}$`, 'm'));
      assert.match(out, /^sum 44850 \(expected 44850\); queue empty: true$/m);
      const taken = [...out.matchAll(/consumer-\d took (\d+) items/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      assert.equal(taken, 300);
    });
  }
});
