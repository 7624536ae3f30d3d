// Item 10 of issue 10: workers that die while importing a task module. Run against
// each pool by test/threads/load-deaths.test.ts and test/processes/load-deaths.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BrokenExecutorError, type ProcessPoolExecutor, type ThreadPoolExecutor } from '../../src/index.js';
import { diesOnImport } from '../fixtures/dies-on-import.js';
import { exitsOnImport } from '../fixtures/exits-on-import.js';
import { tasks } from '../fixtures/tasks.js';
import { EXT_PATTERN } from '../fixtures/source.js';

type Pool = ThreadPoolExecutor | ProcessPoolExecutor;
type Options = { maxWorkers: number; env?: NodeJS.ProcessEnv };

/** Counts the workers of `pool` that ended unexpectedly. */
export function countCrashes(pool: Pool): { readonly n: number; readonly last: { code: number | null; signal: string | null } | undefined } {
  const seen = { n: 0, last: undefined as { code: number | null; signal: string | null } | undefined };
  pool.on('workerExit', ({ code, signal, expected }) => {
    if (expected) return;
    seen.n++;
    seen.last = { code, signal };
  });
  return seen;
}

/** A fresh temporary file path. */
export function tempFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'concur-load-deaths-')), name);
}

/** The load-death suite for one pool class. */
export function loadDeathsSuite(name: string, kind: string, make: (options: Options) => Pool): void {
  describe(`${name}: workers that die while loading a task module`, () => {
    it('three dying in a row break the pool with BrokenExecutorError naming the module and the exit code', { timeout: 120_000 }, async () => {
      const pool = make({ maxWorkers: 2 });
      const crashes = countCrashes(pool);
      const err = await pool.submit(exitsOnImport.neverRuns).exception();
      assert.ok(err instanceof BrokenExecutorError, `got ${String(err)}`);
      assert.match(err.message, new RegExp(`worker ${kind}.*exited with code 7 while loading task module .*exits-on-import${EXT_PATTERN}`));
      assert.match(err.message, /3 in a row/);
      assert.equal(crashes.n, 3, 'exactly three workers started and died');
      const later = await pool.submit(tasks.inc, 1).exception();
      assert.equal(later, err, 'later tasks fail with the same error');
      await pool.shutdown(); // resolves: nothing is left running or respawning
      assert.equal(crashes.n, 3);
    });

    it('two dying while loading are replaced, and the task then runs', { timeout: 120_000 }, async () => {
      const file = tempFile('deaths');
      const pool = make({ maxWorkers: 1, env: { ...process.env, CONCUR_TEST_IMPORT_DEATHS: `${file}:2` } });
      const crashes = countCrashes(pool);
      assert.equal(await pool.submit(diesOnImport.loaded), 'loaded');
      assert.equal(crashes.n, 2);
      assert.deepEqual(crashes.last, { code: 7, signal: null });
      assert.equal(await pool.submit(tasks.inc, 1), 2);
      await pool.shutdown();
    });

    it('the count is of deaths in a row: a load that succeeds starts it again', { timeout: 120_000 }, async () => {
      const file = tempFile('deaths');
      const pool = make({ maxWorkers: 1, env: { ...process.env, CONCUR_TEST_IMPORT_DEATHS: `${file}:2` } });
      const crashes = countCrashes(pool);
      assert.equal(await pool.submit(diesOnImport.loaded), 'loaded'); // two deaths, then a load
      // Ends that worker from inside a task, after its modules loaded: a crash, not a load death.
      assert.equal(((await pool.submit(tasks.exit, 9).exception()) as { exitCode?: number }).exitCode, 9);
      rmSync(file); // the next two imports die again: four deaths, never three in a row
      assert.equal(await pool.submit(diesOnImport.loaded), 'loaded');
      assert.equal(crashes.n, 5);
      await pool.shutdown();
    });
  });
}
