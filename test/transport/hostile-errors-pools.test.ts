import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Executor, ProcessPoolExecutor, ThreadPoolExecutor, WorkerCrashedError } from '../../src/index.js';
import { hostile, hostileTasks } from '../fixtures/hostile-errors.js';

const kinds = Object.keys(hostile) as (keyof typeof hostile)[];

for (const [label, make] of [
  ['ThreadPoolExecutor', () => new ThreadPoolExecutor({ maxWorkers: 1 })],
  ['ProcessPoolExecutor', () => new ProcessPoolExecutor({ maxWorkers: 1 })],
] as const) {
  describe(`${label}: a task whose error fights back fails with its own error, its worker alive`, () => {
    let pool: Executor;
    let worker: string;
    before(async () => {
      pool = make();
      worker = await pool.submit(hostileTasks.whoAmI);
    });
    after(() => pool.shutdown());

    for (const task of ['throwHostile', 'rejectHostile'] as const) {
      it(`${task}: every kind`, { timeout: 60_000 }, async () => {
        for (const kind of kinds) {
          const err = await pool.submit(hostileTasks[task], kind).exception();
          assert.ok(!(err instanceof WorkerCrashedError), `${kind}: ${String(err)}`);
          assert.ok(err !== undefined, kind);
        }
        // The same worker ran every one of them: none was lost to a crash.
        assert.equal(await pool.submit(hostileTasks.whoAmI), worker);
      });
    }

    it('the readable parts arrive as thrown', { timeout: 60_000 }, async () => {
      const getter = (await pool.submit(hostileTasks.throwHostile, 'getterProp').exception()) as RangeError & { code: string; details: string };
      assert.equal(Object.getPrototypeOf(getter), RangeError.prototype);
      assert.equal(getter.message, 'has a throwing getter');
      assert.equal(getter.code, 'E_GETTER');
      assert.match(getter.details, /could not be read: Error: details getter trap/);
      const unreadable = (await pool.submit(hostileTasks.throwHostile, 'unreadable').exception()) as Error;
      assert.equal(unreadable.name, 'Unreadable');
      assert.match(unreadable.message, /message could not be read/);
      const proxy = (await pool.submit(hostileTasks.throwHostile, 'proxy').exception()) as Error;
      assert.match(proxy.message, /threw a value that could not be read/);
      const loop = (await pool.submit(hostileTasks.throwHostile, 'circularCause').exception()) as Error & { cause: Error & { cause: unknown } };
      assert.equal(loop.message, 'first in the loop');
      assert.equal(loop.cause.message, 'second in the loop');
      assert.equal(loop.cause.cause, loop);
      const plain = (await pool.submit(hostileTasks.throwHostile, 'nonErrorGetters').exception()) as Record<string, unknown>;
      assert.equal(plain.code, 'E_PLAIN');
      assert.match(String(plain.detail), /could not be read/);
    });
  });
}
