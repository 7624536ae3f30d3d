import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { it } from 'node:test';
import { ProcessPoolExecutor } from '../../src/index.js';
import { diesOnImport } from '../fixtures/dies-on-import.js';
import { tasks } from '../fixtures/tasks.js';
import { countCrashes, loadDeathsSuite, tempFile } from '../threads/load-deaths-suite.js';

loadDeathsSuite('ProcessPoolExecutor', 'process', (options) => new ProcessPoolExecutor(options));

/** The pids the fixture's loading workers wrote to `file`, once there are `n`; bounded. */
async function loadingPids(file: string, n: number): Promise<number[]> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const pids = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
    if (pids.length >= n) return pids;
    if (performance.now() > deadline) throw new Error(`no worker started loading within 60 s (${pids.length} of ${n})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

it('ProcessPoolExecutor: a worker SIGKILLed from outside while loading is a crash to recover from: the task runs on a replacement', { timeout: 120_000 }, async () => {
  const file = tempFile('pids');
  const pool = new ProcessPoolExecutor({ maxWorkers: 1, env: { ...process.env, CONCUR_TEST_IMPORT_DEATHS: `${file}:hang` } });
  const crashes = countCrashes(pool);
  const f = pool.submit(diesOnImport.loaded);
  const [first] = await loadingPids(file, 1);
  process.kill(first!, 'SIGKILL');
  const [, second] = await loadingPids(file, 2); // the replacement is loading the module
  assert.notEqual(second, first);
  writeFileSync(`${file}.go`, '');
  assert.equal(await f, 'loaded');
  assert.equal(crashes.n, 1);
  assert.deepEqual(crashes.last, { code: null, signal: 'SIGKILL' });
  assert.equal(await pool.submit(tasks.inc, 1), 2);
  await pool.shutdown();
});
