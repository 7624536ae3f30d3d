import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedQueue, Thread, ThreadPoolExecutor, TimeoutError } from '../../src/index.js';
import { stopTasks } from '../fixtures/stop-tasks.js';

/** The internal lock words of a SharedQueue (putters', getters'): 0 when free. */
const lockWords = (q: SharedQueue<number>): number[] => [Atomics.load(q._header, 0), Atomics.load(q._header, 64)];

async function started(flag: Int32Array): Promise<void> {
  const r = Atomics.waitAsync(flag, 0, 0, 30_000);
  if (r.async) {
    const keep = setInterval(() => {}, 1000);
    await r.value;
    clearInterval(keep);
  }
}

describe('SharedQueue: a thread stopped inside an operation', () => {
  it('a task killed by its timeout mid-operation never leaves an internal lock held', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const q = new SharedQueue<number>();
    for (let round = 0; round < 15; round++) {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const f = pool.submitWith({ timeout: 20 + (round % 7) }, stopTasks.churnQueue, q, flag);
      await assert.rejects(f.result(), TimeoutError);
      // The worker is gone once the Future failed: a lock still held now stays held for ever.
      assert.deepEqual(lockWords(q), [0, 0], `round ${round}: an internal lock was left held`);
      await q.put(7, { timeout: 1000 });
      while (!q.empty()) q.getNowait();
    }
  });

  it('Thread.terminate() mid-operation never leaves an internal lock held', async () => {
    const q = new SharedQueue<number>();
    for (let round = 0; round < 20; round++) {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const t = new Thread({ target: stopTasks.churnQueue, args: [q, flag] }).start();
      await started(flag);
      t.terminate();
      await t.join();
      assert.deepEqual(lockWords(q), [0, 0], `round ${round}: an internal lock was left held`);
      while (!q.empty()) q.getNowait();
      q.putNowait(round);
      assert.equal(q.getNowait(), round);
    }
  });
});
