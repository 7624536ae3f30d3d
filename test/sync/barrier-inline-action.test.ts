// A Barrier's action runs in whichever party arrives last. An inline function cannot go
// with the barrier into another thread or process, so a copy there that arrived last
// would have nothing to run: the barrier is refused where it would cross, and a copy that
// got through another way (a Pipe, a queue) breaks the pass instead of skipping the action.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Barrier, BrokenBarrierError, Process, ProcessPoolExecutor, Thread, ThreadPoolExecutor } from '../../src/index.js';
import { reviveShared } from '../../src/sync/shared.js';
import { ends } from '../fixtures/ends.js';
import { shmTasks } from '../fixtures/shm-tasks.js';
import { syncTasks } from '../fixtures/sync-tasks.js';
import { ints } from './harness.js';

const refused = (err: unknown): boolean => err instanceof TypeError && /inline function/.test(err.message) && /defineTasks/.test(err.message);

describe('Barrier with an inline action', () => {
  it('is refused as a Thread argument, with a TypeError naming the rule and the fix; no thread starts', () => {
    const b = new Barrier(2, { action: () => {} });
    const t = new Thread({ target: syncTasks.barrierWaiter, args: [b, ints(1), 0] });
    try {
      assert.throws(() => t.start(), refused);
      assert.equal(t.isAlive(), false);
    } finally {
      b.abort(); // lets out a thread that did start
    }
  });

  it('is refused as a thread-pool task argument (its Future fails)', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const b = new Barrier(2, { action: () => {} });
    try {
      await assert.rejects(ends(pool.submit(syncTasks.barrierWaiter, b, ints(1), 0), 'the task', 30_000), refused);
    } finally {
      b.abort();
    }
  });

  it('is refused as a Process argument and a process-pool task argument', { timeout: 60_000 }, async () => {
    const b = new Barrier(2, { action: () => {} });
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    try {
      assert.throws(() => new Process({ target: shmTasks.barrierWait as never, args: [b] }).start(), refused);
      await assert.rejects(ends(pool.submit(shmTasks.barrierWait, b), 'the task', 30_000), refused);
    } finally {
      b.abort();
    }
  });

  it('a copy that got into another thread some other way and arrives last breaks the pass, saying why', async () => {
    let runs = 0;
    const b = new Barrier(2, { action: () => void runs++ });
    // What a Pipe or a SharedQueue hands a thread: a clone, revived there.
    const copy = reviveShared(structuredClone(b));
    const first = b.wait();
    await assert.rejects(copy.wait(), refused);
    await assert.rejects(first, BrokenBarrierError);
    assert.equal(runs, 0);
    assert.equal(b.broken, true);
  });

  it('still runs in the thread that made it, when that thread arrives last', async () => {
    let runs = 0;
    const b = new Barrier(2, { action: () => void runs++ });
    assert.deepEqual((await Promise.all([b.wait(), b.wait()])).sort(), [0, 1]);
    assert.equal(runs, 1);
  });
});
