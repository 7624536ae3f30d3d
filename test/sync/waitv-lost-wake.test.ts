// Two coroutines of one thread, each waiting on its own Lock, share a native waiter
// thread that sleeps on both words at once (futex_waitv). When both Locks are released
// together, the kernel wakes both of its entries but names only one; a release hands a
// Lock's wake to one waiter only (the WOKEN flag), so the other waiter must still be told
// to look, even though its holder took the Lock again before the waiter thread looked.
//
// The waits here sleep in slices of ten minutes, not 250 ms (CONCUR_TEST_SLICE_MS, read
// as src/ loads): a waiter that misses the release is then stuck until the test's own
// timeout fails it, rather than late by a slice, which a loaded machine can also be.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delay } from './harness.js';

process.env.CONCUR_TEST_SLICE_MS = String(10 * 60_000);
const { Lock } = await import('../../src/index.js');
delete process.env.CONCUR_TEST_SLICE_MS;

describe('a waiter thread that sleeps on many words', () => {
  it('a waiter whose Lock was released and taken again at once is woken by the next release, not by its time slice', { timeout: 90_000 }, async () => {
    const keep = setInterval(() => {}, 1000);
    try {
      for (let trial = 0; trial < 30; trial++) {
        const a = new Lock();
        const b = new Lock();
        a.acquireSync();
        b.acquireSync();
        const waitA = a.acquire();
        const waitB = b.acquire();
        // Both coroutines asleep in the kernel (nothing to wait on: a wait is unobservable).
        await delay(30);
        a.release();
        b.release();
        assert.equal(a.acquireSync({ timeout: 0 }), true, 'the holder takes it back before the waiter looks');
        await delay(20);
        a.release();
        // Once seen ~200 ms late, when the waiter's 250 ms slice ended; with no slice to
        // end, a waiter that missed this release never returns and the test times out.
        assert.deepEqual(await Promise.all([waitA, waitB]), [true, true]);
        a.release();
        b.release();
      }
    } finally {
      clearInterval(keep);
    }
  });
});
