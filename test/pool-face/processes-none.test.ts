// Python's Pool(None) and Pool(processes=None) mean os.cpu_count() workers, and ported
// code passes None (null) often: concur takes null as None for processes, as it does for
// maxtasksperchild (it once refused processes: null with a RangeError).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ThreadPool } from '../../src/index.js';
import { poolTasks as t } from '../fixtures/pool-tasks.js';

it('processes: null means the default number of workers, as Python None', async () => {
  const pool = new ThreadPool({ processes: null, maxtasksperchild: null });
  try {
    assert.equal(await pool.apply(t.sqr, [3]), 9);
  } finally {
    await pool.terminate();
  }
});

it('ThreadPool(null) is ThreadPool(None)', async () => {
  const pool = new ThreadPool(null);
  try {
    assert.equal(await pool.apply(t.sqr, [4]), 16);
  } finally {
    await pool.terminate();
  }
});
