import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProcessPoolExecutor, WorkerCrashedError } from '../../src/index.js';
import { environment, files, grandchildren, tasks } from '../fixtures/tasks.js';
import { LIMIT, runProgram } from '../fixtures/run-program.js';

describe('ProcessPoolExecutor', () => {
  it('a child killed by SIGKILL mid-task fails only that Future, naming the signal, and is replaced', async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    const others = Array.from({ length: 10 }, (_, i) => pool.submit(tasks.sleepy, 1, i));
    const killed = pool.submit(files.killSelf, 'SIGKILL');
    const err = await killed.exception();
    assert.ok(err instanceof WorkerCrashedError, String(err));
    assert.equal(err.signal, 'SIGKILL');
    assert.match(err.message, /worker process running task killSelf .* was killed by SIGKILL/);
    assert.deepEqual(await Promise.all(others), Array.from({ length: 10 }, (_, i) => i));
    assert.equal(await pool.submit(tasks.inc, 1), 2);
  });

  it('a worker that exits leaving a grandchild behind still fails its task promptly', async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    // The worker started first: its start (seconds on a loaded machine) is not what is measured.
    assert.equal(await pool.submit(tasks.inc, 0), 1);
    const started = performance.now();
    const err = await pool.submit(grandchildren.exitLeavingGrandchild, 20).exception();
    assert.ok(err instanceof WorkerCrashedError);
    assert.equal(err.exitCode, 5);
    assert.ok(performance.now() - started < 10_000, 'not held until the grandchild (20 s) ends');
    assert.equal(await pool.submit(tasks.inc, 1), 2);
  });

  it('process.exit() mid-task fails that Future with its exit code; the rest go on', async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const before = pool.submit(tasks.inc, 1);
    const exit = pool.submit(tasks.exit, 9);
    const after = pool.submit(tasks.inc, 2);
    const err = await exit.exception();
    assert.ok(err instanceof WorkerCrashedError);
    assert.equal(err.exitCode, 9);
    assert.deepEqual(await Promise.all([before, after]), [2, 3]);
  });

  it('execArgv and env options reach the worker processes', async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1, env: { ...process.env, CONCUR_TEST_FLAG: 'from-parent' }, execArgv: [...process.execArgv, '--max-old-space-size=123'] });
    assert.equal(await pool.submit(environment.envVar, 'CONCUR_TEST_FLAG'), 'from-parent');
    assert.ok((await pool.submit(environment.execArgv)).includes('--max-old-space-size=123'));
  });

  it('runs tasks in other processes, and isMain() is false there', async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 2 });
    const pids = new Set(await Promise.all(Array.from({ length: 8 }, () => pool.submit(files.pid))));
    assert.ok(!pids.has(process.pid));
  });

  it('maxTasksPerWorker recycles worker processes', async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1, maxTasksPerWorker: 2 });
    const pids: number[] = [];
    for (let i = 0; i < 4; i++) pids.push(await pool.submit(files.pid));
    assert.equal(pids[0], pids[1]);
    assert.notEqual(pids[1], pids[2]);
    assert.equal(pids[2], pids[3]);
  });

  it('maxMemoryMb recycles a worker process whose memory passes the ceiling', async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1, maxMemoryMb: 150 });
    const first = await pool.submit(files.grow, 200);
    // the worker asked to be replaced after that task; the next runs in a new process
    const exited = new Promise((resolve) => pool.once('workerExit', resolve));
    await exited;
    const second = await pool.submit(files.pid);
    assert.notEqual(first, second);
  });

  it('what a task printed all reaches the pipe its worker writes to, though the worker is stopped at shutdown (it dropped what the pipe had not taken)', { timeout: LIMIT + 10_000 }, async () => {
    const n = 20_000; // 2 MB, far more than a pipe holds
    const r = await runProgram('./lifecycle-programs.ts', ['poolPrintsMany', String(n)], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => /^line \d+ x{100}$/.test(l)).length, n);
    assert.match(r.stdout, /pool shut down\n$/);
  });
});
