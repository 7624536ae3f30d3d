import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, RLock, ThreadPoolExecutor } from '../../src/index.js';
import { regressionTasks } from '../fixtures/sync-torture-tasks.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs `n` coroutines that each take `lock` `rounds` times and yield inside; the most that were inside at once. */
async function mostInside(lock: { acquire(): Promise<boolean>; release(): void }, n: number, rounds: number): Promise<number> {
  let inside = 0;
  let most = 0;
  const one = async (): Promise<void> => {
    for (let r = 0; r < rounds; r++) {
      await lock.acquire();
      most = Math.max(most, ++inside);
      await turn();
      inside--;
      lock.release();
    }
  };
  await Promise.all(Array.from({ length: n }, one));
  return most;
}

describe('RLock and Condition between coroutines of one thread (issue 10, item 5)', () => {
  it('a default Condition excludes coroutines of the main thread', async () => {
    assert.equal(await mostInside(new Condition(), 4, 20), 1);
  });

  it('a bare RLock excludes coroutines of the main thread, and is re-entrant within one', async () => {
    const rlock = new RLock();
    assert.equal(await mostInside(rlock, 4, 20), 1);
    await rlock.acquire();
    assert.equal(await rlock.acquire({ timeout: 100 }), true, 're-entrant in the coroutine that holds it');
    await turn();
    assert.equal(rlock.acquireSync({ timeout: 100 }), true, 're-entrant after an await, and by the blocking form');
    rlock.release();
    rlock.release();
    assert.equal(rlock.locked(), true, 'still held once');
    rlock.release();
    assert.equal(rlock.locked(), false);
  });

  it('a function a holder awaits is in its context (re-entrant); a coroutine started alongside is not', async () => {
    const rlock = new RLock();
    let otherDone!: () => void;
    const otherFinished = new Promise<void>((resolve) => (otherDone = resolve));
    const helper = async (): Promise<boolean> => {
      const got = await rlock.acquire({ timeout: 100 });
      if (got) rlock.release();
      return got;
    };
    const holder = async (): Promise<boolean> => {
      await rlock.acquire();
      const got = await helper();
      await otherFinished;
      rlock.release();
      return got;
    };
    const other = async (): Promise<boolean> => {
      const got = await rlock.acquire({ timeout: 50 });
      if (got) rlock.release();
      otherDone();
      return got;
    };
    assert.deepEqual(await Promise.all([holder(), other()]), [true, false]);
    assert.equal(rlock.locked(), false);
  });

  it('hold() and withLock() give the lock to the code they run: re-entrant there, excluding other coroutines, released at the end', async () => {
    const rlock = new RLock();
    let inside = 0;
    let most = 0;
    const viaHold = async (): Promise<void> => {
      await using _held = await rlock.hold();
      most = Math.max(most, ++inside);
      assert.equal(await rlock.acquire({ timeout: 100 }), true, 're-entrant after hold()');
      rlock.release();
      await turn();
      inside--;
    };
    const viaWithLock = (): Promise<void> =>
      rlock.withLock(async () => {
        most = Math.max(most, ++inside);
        assert.equal(rlock.acquireSync({ blocking: false }), true, 're-entrant inside withLock()');
        rlock.release();
        await turn();
        inside--;
      });
    await Promise.all([viaHold(), viaWithLock(), viaHold(), viaWithLock()]);
    assert.equal(most, 1);
    assert.equal(rlock.locked(), false);
  });

  it('a blocking acquire of an RLock another coroutine of this thread holds throws at once instead of freezing the event loop', async () => {
    const rlock = new RLock();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holder = (async () => {
      await rlock.acquire();
      await held;
      rlock.release();
    })();
    await turn();
    const other = async (): Promise<void> => {
      const t0 = performance.now();
      assert.throws(() => rlock.acquireSync(), /another coroutine of this thread/);
      assert.throws(() => rlock.acquireSync({ timeout: 5000 }), /another coroutine of this thread/);
      assert.ok(performance.now() - t0 < 1000, 'at once');
      assert.equal(rlock.acquireSync({ blocking: false }), false, 'a non-blocking try just fails');
      assert.throws(() => rlock.release(), /un-acquired/, 'and it cannot release what it does not hold');
    };
    await other();
    release();
    await holder;
    assert.equal(rlock.locked(), false);
  });

  it('a coroutine started in the same synchronous run, right after another took the RLock in its await, is not the owner', async () => {
    // The first coroutine's code after its await owns the lock even before it has run;
    // the second starts at once (no await between) and must not pass for the owner.
    const rlock = new RLock();
    const seen: string[] = [];
    const first = async (): Promise<void> => {
      await rlock.acquire();
      seen.push('first inside');
      await turn();
      rlock.release();
    };
    const second = async (): Promise<void> => {
      seen.push('second starts');
      assert.equal(rlock.locked(), true, 'the first took it synchronously');
      assert.throws(() => rlock.acquireSync(), /another coroutine of this thread/);
      assert.equal(rlock.acquireSync({ blocking: false }), false);
      assert.throws(() => rlock.release(), /un-acquired/);
      assert.equal(await rlock.acquire(), true, 'an awaited acquire waits its turn');
      seen.push('second inside');
      rlock.release();
    };
    await Promise.all([first(), second()]);
    assert.deepEqual(seen, ['second starts', 'first inside', 'second inside']);
    assert.equal(rlock.locked(), false);
  });

  it('Condition wait and notify between coroutines: each item is taken by exactly one consumer, with the lock held by one at a time', async () => {
    const cond = new Condition();
    const items: number[] = [];
    const taken: number[] = [];
    let inside = 0;
    let most = 0;
    const enter = (): void => void (most = Math.max(most, ++inside));
    const consumer = async (): Promise<void> => {
      for (;;) {
        await cond.acquire();
        enter();
        try {
          while (items.length === 0) {
            inside--;
            await cond.wait();
            enter();
          }
          const item = items.shift()!;
          if (item < 0) return;
          taken.push(item);
          await turn();
        } finally {
          inside--;
          cond.release();
        }
      }
    };
    const producer = async (): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        await cond.acquire();
        enter();
        items.push(i);
        cond.notify();
        await turn();
        inside--;
        cond.release();
      }
      await cond.acquire();
      items.push(-1, -1, -1);
      cond.notifyAll();
      cond.release();
    };
    await Promise.all([consumer(), consumer(), consumer(), producer()]);
    assert.equal(most, 1, 'one coroutine inside at a time');
    assert.deepEqual(taken.sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i));
  });

  it('coroutines of a worker thread are excluded by a default Condition too', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    assert.equal(await pool.submit(regressionTasks.coroutinesInsideCondition, new Condition(), 4, 20), 1);
  });
});
