// A pool's initargs reach its workers as plain data, copied into each: a shared primitive,
// a proxy or a Pipe end there would arrive without its methods (the initializer saw
// `undefined` for `q.putSync`). Both pools refuse it when they are made, naming it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lock, ProcessPoolExecutor, SharedQueue, ThreadPoolExecutor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

for (const Pool of [ThreadPoolExecutor, ProcessPoolExecutor]) {
  describe(`${Pool.name} initargs`, () => {
    it('a SharedQueue or a Lock given as an initarg, or nested in one, is refused with a TypeError naming it', () => {
      assert.throws(
        () => new Pool({ maxWorkers: 1, initializer: tasks.inc, initargs: [new SharedQueue()] }),
        (e) => e instanceof TypeError && /^initargs\[0\] \(a SharedQueue\) cannot reach the workers/.test(e.message) && /arguments of the tasks/.test(e.message),
      );
      assert.throws(
        () => new Pool({ maxWorkers: 1, initializer: tasks.inc, initargs: [1, { lock: new Lock() }] }),
        (e) => e instanceof TypeError && /^initargs\[1\]\.lock \(a Lock\) cannot reach the workers/.test(e.message),
      );
    });

    it('plain data still goes', async () => {
      const pool = new Pool({ maxWorkers: 1, initializer: tasks.inc, initargs: [1] });
      assert.equal(await pool.submit(tasks.inc, 1), 2);
      await pool.shutdown();
    });
  });
}
