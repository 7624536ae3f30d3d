// Issue 10 item 7: what a target or a task wrote through a proxy has landed before its
// join() returns or its Future settles.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Process, ProcessPoolExecutor, SharedArray, Value } from '../../src/index.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';

describe('writes through a proxy land before the writer is done', () => {
  it('a Process that writes a Value and a SharedArray and returns: join() sees every write', { timeout: 180_000 }, async () => {
    for (let round = 0; round < 2; round++) {
      const v = new Value('i32', 0);
      const a = new SharedArray('i32', 4);
      const p = new Process({ target: proxyTasks.writeAndReturn, args: [v, a, 42 + round] }).start();
      await p.join();
      assert.equal(p.exitCode, 0);
      assert.equal(v.value, 42 + round, `round ${round}: the Value write landed`);
      assert.deepEqual(Array.from(a.array), [0, 1, 2, 3].map((i) => 42 + round + i), `round ${round}: every array write landed`);
    }
  });

  it('a Process whose target writes and then throws: join() sees every write', { timeout: 180_000 }, async () => {
    const v = new Value('i32', 0);
    const a = new SharedArray('i32', 2);
    const p = new Process({ target: proxyTasks.writeAndThrow, args: [v, a, 5] }).start();
    await p.join();
    assert.equal(p.exitCode, 1);
    assert.equal(v.value, 5);
    assert.deepEqual(Array.from(a.array), [5, 6]);
  });

  it('a Thread (of a child process) whose target writes through proxies and then throws: its join() sees every write', { timeout: 180_000 }, async () => {
    const v = new Value('i32', 0);
    const a = new SharedArray('i32', 2);
    const p = new Process({ target: proxyTasks.threadWritesAndThrows, args: [v, a, 9] }).start();
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.equal(v.value, 9);
    assert.deepEqual(Array.from(a.array), [9, 10]);
  });

  it('a process-pool task that writes and then throws: the writes landed when its Future fails', { timeout: 180_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    for (let round = 0; round < 5; round++) {
      const v = new Value('i32', 0);
      const a = new SharedArray('i32', 2);
      await assert.rejects(pool.submit(proxyTasks.writeAndThrow, v, a, 3 + round), /failed after writing/);
      assert.equal(v.value, 3 + round, `round ${round}: the Value write landed before the Future failed`);
      assert.deepEqual(Array.from(a.array), [3 + round, 4 + round]);
    }
  });

  it('a process-pool task that writes and returns: the writes landed when its Future resolves', { timeout: 180_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    for (let round = 0; round < 10; round++) {
      const v = new Value('i32', 0);
      const a = new SharedArray('i32', 3);
      await pool.submit(proxyTasks.writeAndReturn, v, a, 7 + round);
      assert.equal(v.value, 7 + round, `round ${round}: the Value write landed before the Future resolved`);
      assert.deepEqual(Array.from(a.array), [7 + round, 8 + round, 9 + round], `round ${round}: the array writes landed`);
    }
  });
});
