// An RLock (and a default Condition) belongs to the coroutine that called acquire(),
// whatever wraps the promise on the way to that coroutine's await: Promise.race,
// concur's timeout(), a then() chain, an async helper of its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, RLock, timeout } from '../../src/index.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const never = (): Promise<never> => new Promise(() => {});

/** Acquires `lock` and returns the promise wrapped; a plain function, so the coroutine that calls it is the caller that owns. */
type Take = (lock: RLock | Condition) => Promise<boolean>;

const WRAPPERS: Record<string, Take> = {
  'Promise.race': (lock) => Promise.race([lock.acquire(), never()]),
  "concur's timeout()": (lock) => timeout(60_000, lock.acquire()),
  'a then() chain': (lock) => lock.acquire().then((got) => got).then((got) => got),
  'an async helper with a deadline of its own': (lock) => {
    const within = async <T>(ms: number, p: Promise<T>): Promise<T> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('late')), ms)))]);
      } finally {
        clearTimeout(timer);
      }
    };
    return within(60_000, lock.acquire());
  },
};

/** Coroutines that each take `lock` through `take` `rounds` times and yield inside; the most inside at once. */
async function mostInside(lock: RLock | Condition, take: Take, n: number, rounds: number): Promise<number> {
  let inside = 0;
  let most = 0;
  const one = async (): Promise<void> => {
    for (let r = 0; r < rounds; r++) {
      assert.equal(await take(lock), true);
      most = Math.max(most, ++inside);
      await turn();
      inside--;
      lock.release();
    }
  };
  await Promise.all(Array.from({ length: n }, one));
  return most;
}

describe('RLock: the coroutine that called acquire() owns it, whatever wraps the promise', () => {
  for (const [name, take] of Object.entries(WRAPPERS)) {
    it(`through ${name}: the caller releases it, re-enters it, and other coroutines are kept out`, async () => {
      const rlock = new RLock();
      // Started first, so that it is not a function the holder calls (that one would share its context).
      let go!: () => void;
      const outsider = (async (): Promise<boolean> => {
        await new Promise<void>((resolve) => (go = resolve));
        const got = await rlock.acquire({ timeout: 50 });
        if (got) rlock.release();
        return got;
      })();
      assert.equal(await take(rlock), true);
      assert.equal(rlock.acquireSync({ blocking: false }), true, 're-entrant in the caller');
      rlock.release();
      go();
      assert.equal(await outsider, false, 'another coroutine waits');
      await turn();
      rlock.release();
      assert.equal(rlock.locked(), false);
    });

    it(`through ${name}, contended: two coroutines started together (Promise.all) each own it in turn`, async () => {
      const rlock = new RLock();
      assert.equal(await mostInside(rlock, take, 2, 10), 1);
      assert.equal(rlock.locked(), false);
    });

    it(`through ${name}: a default Condition's lock too (wait and notify in the caller)`, async () => {
      const cond = new Condition();
      let ready = false;
      const waiter = (async () => {
        assert.equal(await take(cond), true);
        while (!ready) await cond.wait();
        cond.release();
      })();
      await turn();
      assert.equal(await take(cond), true);
      ready = true;
      cond.notify();
      cond.release();
      await waiter;
      assert.equal((cond.lock as RLock).locked(), false);
    });
  }

  it('a wrapped acquire that waits longer than a second for the holder still reaches its caller', async () => {
    const rlock = new RLock();
    let release!: () => void;
    const holding = new Promise<void>((resolve) => (release = resolve));
    const holder = (async () => {
      await rlock.acquire();
      await holding;
      rlock.release();
    })();
    await turn();
    const waiter = (async () => {
      assert.equal(await timeout(60_000, rlock.acquire()), true);
      rlock.release();
      return rlock.locked();
    })();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    release();
    await holder;
    assert.equal(await waiter, false);
  });

  it('a then() callback on acquire() owns the lock (no await at all)', async () => {
    const rlock = new RLock();
    const done = rlock.acquire().then(() => {
      assert.equal(rlock.acquireSync({ blocking: false }), true, 're-entrant in the callback');
      rlock.release();
      rlock.release();
      return rlock.locked();
    });
    assert.equal(await done, false);
  });

  it('a coroutine started in the same synchronous run as a wrapped acquire is not the owner', async () => {
    const rlock = new RLock();
    let release!: () => void;
    const later = new Promise<void>((resolve) => (release = resolve));
    const holder = async (): Promise<void> => {
      assert.equal(await Promise.race([rlock.acquire(), never()]), true);
      await later;
      rlock.release();
    };
    const other = async (): Promise<void> => {
      await turn();
      await Promise.race([turn(), never()]);
      assert.equal(rlock.acquireSync({ blocking: false }), false, 'not re-entrant for it');
      assert.throws(() => rlock.release(), /un-acquired/);
      release();
    };
    await Promise.all([holder(), other()]);
    assert.equal(rlock.locked(), false);
  });
});
