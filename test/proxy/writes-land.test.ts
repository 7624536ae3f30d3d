// Issue 10 item 7: what a target or a task wrote through a proxy has landed before its
// join() returns or its Future settles.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Process, ProcessPoolExecutor, SharedArray, Value } from '../../src/index.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';

describe('writes through a proxy land before the writer is done', () => {
  it('a Process that writes a Value and a SharedArray and returns: join() sees every write', { timeout: 60_000 }, async () => {
    for (let round = 0; round < 3; round++) {
      const v = new Value('i32', 0);
      const a = new SharedArray('i32', 4);
      const p = new Process({ target: proxyTasks.writeAndReturn, args: [v, a, 42 + round] }).start();
      await p.join();
      assert.equal(p.exitCode, 0);
      assert.equal(v.value, 42 + round, `round ${round}: the Value write landed`);
      assert.deepEqual(Array.from(a.array), [0, 1, 2, 3].map((i) => 42 + round + i), `round ${round}: every array write landed`);
    }
  });

  it('a process-pool task that writes and returns: the writes landed when its Future resolves', { timeout: 60_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    for (let round = 0; round < 20; round++) {
      const v = new Value('i32', 0);
      const a = new SharedArray('i32', 3);
      await pool.submit(proxyTasks.writeAndReturn, v, a, 7 + round);
      assert.equal(v.value, 7 + round, `round ${round}: the Value write landed before the Future resolved`);
      assert.deepEqual(Array.from(a.array), [7 + round, 8 + round, 9 + round], `round ${round}: the array writes landed`);
    }
  });
});
