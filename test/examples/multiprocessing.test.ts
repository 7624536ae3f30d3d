// The tutorials' multiprocessing programs (a ticket sale under a Lock, multiprocessing.Pool)
// run here, so none of them rots; the Manager's is in manager.test.ts (each file has its
// own time budget, and these start many processes).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runExample } from './run-example.js';

describe('examples: multiprocessing programs', () => {
  it('ticket-sale.ts: ten processes oversell without the lock and sell exactly with it', async () => {
    const out = await runExample('ticket-sale.ts', '30', '10');
    const unlocked = /^without a lock: +10 processes sold (\d+) of 30 tickets/m.exec(out);
    assert.ok(unlocked, out);
    assert.ok(Number(unlocked[1]) > 30, `expected an oversale without the lock:\n${out}`);
    assert.match(out, /^with the lock: +10 processes sold 30 of 30 tickets \(30 distinct numbers\): exact$/m);
  });

  it('mp-pool.ts: the tutorials\' multiprocessing.Pool programs (applyAsync/close/join, get, map, callbacks)', async () => {
    const out = await runExample('mp-pool.ts');
    const visits = [...out.matchAll(/^page (\d+) visited by pid (\d+)$/gm)];
    assert.deepEqual(visits.map((m) => Number(m[1])).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
    assert.ok(new Set(visits.map((m) => m[2])).size <= 4, 'more than 4 workers in a Pool(4)');
    assert.match(out, /^1\. twenty visits done on a pool of 4$/m);
    assert.match(out, /^2\. sizes in submission order: 0 5 10 15 20 25 30 35 40 45$/m);
    assert.match(out, /^3\. map: 0 5 10 15 20 25 30 35 40 45$/m);
    assert.match(out, /^4\. callbacks handled 10 pages as they finished: [\d ]+ \(sum 225\)$/m);
  });
});
