import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { defineTasks, isMain, isMainProcess, ThreadPoolExecutor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

const run = promisify(execFile);
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/compiled/${name}`, import.meta.url));

describe('tasks', () => {
  it('a TypeScript task module works when the parent runs under tsx and concur is compiled JS', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture('ts-main.ts')]);
    assert.deepEqual(JSON.parse(stdout), { greeting: 'hello ts', inWorker: false, here: true });
  });

  it('under tsx, a named local function or class in an inline task or a manager factory runs and keeps its name', { timeout: 90_000 }, async () => {
    // tsx compiles with keepNames: such code calls a helper, __name, that the worker lacks
    const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture('ts-inline-names.ts')], { timeout: 80_000 });
    assert.deepEqual(JSON.parse(stdout), { helper: 6, name: 'twice', class: 6, register: 6 });
  });

  it('plain JavaScript with no loader runs compiled concur and .mjs tasks', async () => {
    const { stdout } = await run(process.execPath, [fixture('js-main.mjs')]);
    assert.deepEqual(JSON.parse(stdout), { squares: [1, 4, 9, 16] });
  });

  it('isMain and isMainProcess are true in the main thread of the main process', () => {
    assert.equal(isMain(), true);
    assert.equal(isMainProcess(), true);
  });

  it('an inline function that uses a variable from around it fails with a hint', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const factor = 3;
    const err = (await pool.submit((x: number) => x * factor, 2).exception()) as Error;
    assert.ok(err instanceof ReferenceError);
    assert.match(err.message, /factor is not defined .*inline task cannot use variables from around it/);
  });

  it('method-shorthand and async inline functions compile in the worker', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const holder = {
      twice(x: number): number {
        return x * 2;
      },
    };
    assert.equal(await pool.submit(holder.twice, 21), 42);
    assert.equal(await pool.submit(async function named(x: number) { return x + 1; }, 1), 2);
  });

  it('native and bound functions fail their Future with a reason', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    await assert.rejects(pool.submit(Math.max, 1, 2).result(), /native or bound function .*defineTasks/);
    await assert.rejects(pool.submit(tasks.add.bind(null), 1, 2).result(), /native or bound function/);
  });

  it('defineTasks refuses what cannot name a task', () => {
    assert.throws(() => defineTasks('', {}), /import\.meta\.url/);
    assert.throws(() => defineTasks('relative/path.js', {}), /import\.meta\.url or an absolute path/);
    assert.throws(() => defineTasks(import.meta.url, { x: 1 as unknown as () => void }), /task "x" is a number/);
    defineTasks(import.meta.url, { dup: () => 1 });
    assert.throws(() => defineTasks(import.meta.url, { dup: () => 2 }), /already defines a task named "dup"/);
  });

  it('defineTasks returns the same functions, still callable here', () => {
    assert.equal(tasks.fib(10), 55);
  });
});
