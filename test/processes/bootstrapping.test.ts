// Issue 10, item 9: starting processes from a child still importing a task module.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ProcessPoolExecutor } from '../../src/index.js';
import { topLevelPool } from '../fixtures/top-level-pool.js';
import { describeRun, runProgram } from './run-program.js';
import { EXT_PATTERN } from '../fixtures/source.js';

const GUARD = /Guard the program's main code with `if \(isMain\(\)\) \{ \.\.\. \}`/;
const HARD_TIMEOUT = 60_000;

it('an unguarded top-level Process (after a top-level await) fails in the child, naming the fix; nothing recurses or is left behind', { timeout: 120_000 }, async () => {
  const run = await runProgram('unguarded-process.ts', {}, HARD_TIMEOUT);
  const why = describeRun(run);
  assert.equal(run.timedOut, false, why);
  assert.deepEqual(run.leftovers, [], why);
  assert.equal(run.code, 0, why);
  assert.match(run.stdout, /^exitCode 1$/m, why);
  assert.doesNotMatch(run.stdout, /hello bob/, why);
  assert.match(run.stderr, /start a new process before the current process has finished its bootstrapping phase/, why);
  assert.match(run.stderr, GUARD, why);
});

/** Runs the unguarded Pool fixture with `pool`: it fails the Future in the parent, naming the missing guard; nothing is left behind. */
async function unguardedPool(pool: string): Promise<string> {
  const run = await runProgram('unguarded-pool.ts', { CONCUR_TEST_POOL: pool }, HARD_TIMEOUT);
  const why = describeRun(run);
  assert.equal(run.timedOut, false, why);
  assert.deepEqual(run.leftovers, [], why);
  assert.equal(run.code, 1, why);
  // The Future of the task whose module could not load fails with that error; the others with BrokenExecutorError.
  assert.match(run.stderr, new RegExp(`TaskLoadError\\]?: cannot load task module .*unguarded-pool${EXT_PATTERN}: An attempt has been made to start a new worker process before the current process has finished its bootstrapping phase`), why);
  assert.match(run.stderr, GUARD, why);
  return run.stderr;
}

it('an unguarded top-level ProcessPoolExecutor.map fails the Future in the parent with an error saying so; nothing is left behind', { timeout: 120_000 }, async () => {
  await unguardedPool('process');
});

it('an unguarded top-level multiprocessing Pool (daemonic workers) names the missing guard, not the daemon rule', { timeout: 120_000 }, async () => {
  assert.doesNotMatch(await unguardedPool('mp'), /daemonic/);
});

it('a process-pool worker that loads, after others, a module starting a Process at import fails that Future saying so', { timeout: 120_000 }, async () => {
  const run = await runProgram('loads-later.ts', { CONCUR_TEST_POOL: 'process', CONCUR_TEST_START: 'process' }, HARD_TIMEOUT);
  const why = describeRun(run);
  assert.equal(run.timedOut, false, why);
  assert.deepEqual(run.leftovers, [], why);
  assert.equal(run.code, 0, why);
  assert.match(run.stdout, /^first 2$/m, why);
  assert.match(run.stdout, new RegExp(`^second TaskLoadError: cannot load task module .*starts-on-import${EXT_PATTERN}: An attempt has been made to start a new process before the current process has finished its bootstrapping phase`, 'm'), why);
  assert.match(run.stdout, GUARD, why);
});

it('once its module has loaded, a task may start a Process or a Thread and use a pool the module made at its top level', { timeout: 120_000 }, async () => {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  assert.equal(await pool.submit(topLevelPool.useTopLevelPool, 1), 2);
  assert.equal(await pool.submit(topLevelPool.startAndJoin, 'process'), 0);
  assert.equal(await pool.submit(topLevelPool.startAndJoin, 'thread'), 0);
});
