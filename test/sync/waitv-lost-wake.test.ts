// Two coroutines of one thread, each waiting on its own Lock, share a native waiter
// thread that sleeps on both words at once (futex_waitv). When both Locks are released
// together, the kernel wakes both of its entries but names only one; a release hands a
// Lock's wake to one waiter only (the WOKEN flag), so the other waiter must still be told
// to look, even though its holder took the Lock again before the waiter thread looked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lock } from '../../src/index.js';
import { delay } from './harness.js';

describe('a waiter thread that sleeps on many words', () => {
  it('a waiter whose Lock was released and taken again at once is woken by the next release, not by its time slice', async () => {
    const keep = setInterval(() => {}, 1000);
    const slow: number[] = [];
    try {
      for (let trial = 0; trial < 30; trial++) {
        const a = new Lock();
        const b = new Lock();
        a.acquireSync();
        b.acquireSync();
        let tookA = 0;
        const waitA = a.acquire().then(() => void (tookA = performance.now()));
        const waitB = b.acquire();
        // Both coroutines asleep in the kernel (nothing to wait on: a wait is unobservable).
        await delay(30);
        a.release();
        b.release();
        assert.equal(a.acquireSync({ timeout: 0 }), true, 'the holder takes it back before the waiter looks');
        await delay(20);
        const released = performance.now();
        a.release();
        await Promise.all([waitA, waitB]);
        a.release();
        b.release();
        if (tookA - released > 150) slow.push(Math.round(tookA - released));
      }
    } finally {
      clearInterval(keep);
    }
    assert.deepEqual(slow, [], `waits that saw a release only when their 250 ms slice ended (ms after it)`);
  });
});
