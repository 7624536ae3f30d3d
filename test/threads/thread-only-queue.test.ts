// A Queue (asyncio.Queue: the coroutines of one thread) given to a pool task fails that
// task's Future with a TypeError naming the argument and the SharedQueue to use, as
// Process and Thread refuse it at start(). It arrived as { maxsize: 0 }, and the task
// failed with "q.putNowait is not a function" (Python's thread pool shares a
// queue.Queue; its process pool fails to pickle one).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pool, ProcessPoolExecutor, Queue, ThreadPoolExecutor } from '../../src/index.js';

const refused = (err: unknown): boolean => {
  assert.ok(err instanceof TypeError, `not a TypeError: ${String(err)}`);
  assert.match(err.message, /^argument 1 \(a Queue\) of task .*cannot cross: .*use a SharedQueue/);
  return true;
};

describe('a Queue given to a pool task', () => {
  it('fails the Future on a thread pool and a process pool, and the pool goes on', { timeout: 60_000 }, async () => {
    for (const ex of [new ThreadPoolExecutor(1), new ProcessPoolExecutor(1)]) {
      try {
        const q = new Queue<number>();
        await assert.rejects(ex.submit((n: number, x: Queue<number>) => x.putNowait(n), 1, q), refused);
        assert.equal(await ex.submit((a: number, b: number) => a + b, 1, 2), 3);
      } finally {
        await ex.shutdown();
      }
    }
  });

  it("and on a Pool's applyAsync", { timeout: 60_000 }, async () => {
    await using pool = new Pool(1);
    await assert.rejects(pool.apply((n: number, x: Queue<number>) => x.putNowait(n), [1, new Queue<number>()]), refused);
  });
});
