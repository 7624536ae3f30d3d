// Python's rule: a daemonic process (a daemon Process, a multiprocessing.Pool worker)
// may not start children: "daemonic processes are not allowed to have children".
// ProcessPoolExecutor's workers are not daemonic, and may.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pipe, Pool, Process, ProcessPoolExecutor, ThreadPool } from '../../src/index.js';
import { daemonic } from '../fixtures/daemonic-tasks.js';

const RULE = 'daemonic processes are not allowed to have children';

async function reports(daemon: boolean): Promise<string[]> {
  const [here, there] = Pipe();
  const p = new Process({ target: daemonic.report, args: [there], daemon }).start();
  const got = [(await here.recv()) as string, (await here.recv()) as string, (await here.recv()) as string];
  await p.join();
  assert.equal(p.exitCode, 0);
  return got;
}

describe('daemonic processes may not have children', { concurrency: true }, () => {
  it('a daemon Process cannot start a Process, a process pool worker, nor a Process from its Thread', { timeout: 60_000 }, async () => {
    const got = await reports(true);
    assert.equal(got.length, 3);
    for (const line of got) assert.match(line, new RegExp(`^[a-z-]+: ${RULE}`), line);
  });

  it('a non-daemon Process can start all three', { timeout: 60_000 }, async () => {
    assert.deepEqual(await reports(false), ['process: started, exit code 0', 'pool: started, nothing', 'thread-process: started, exit code 0']);
  });

  it('a Pool worker is daemonic: its task fails with the rule; a ProcessPoolExecutor worker and a ThreadPool task may start a Process', { timeout: 60_000 }, async () => {
    const pool = new Pool(1);
    try {
      assert.match(await pool.apply(daemonic.tryChild, ['process']), new RegExp(`^${RULE}`));
      assert.match(await pool.apply(daemonic.processName), /^SpawnPoolWorker-\d+$/); // Python's name for a Pool worker
    } finally {
      await pool.terminate();
    }
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
    assert.equal(await executor.submit(daemonic.tryChild, 'process'), 'started, exit code 0');
    await using threads = new ThreadPool(1);
    assert.equal(await threads.apply(daemonic.tryChild, ['process']), 'started, exit code 0');
  });
});
