// currentThread() in the main thread, a Thread and pool workers; sleepSync; and a Thread's
// output reaching the terminal while it runs synchronous code.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { currentThread, Pipe, ProcessPoolExecutor, sleepSync, Thread, ThreadPoolExecutor, type ThreadInfo } from '../../src/index.js';
import { threadTasks } from '../fixtures/thread-tasks.js';
import { own, TSX } from '../fixtures/source.js';

/** Runs the fixture until both streams show every line the spinning thread printed, then kills it. */
function printedWhileSpinning(mode: 'free' | 'blocked'): Promise<{ stdout: string; stderr: string }> {
  const file = fileURLToPath(new URL(own('../fixtures/thread-print.ts'), import.meta.url));
  const child = spawn(process.execPath, [...TSX, file, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (/spinner: line 3/.test(stdout) && /spinner: to stderr/.test(stderr)) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve({ stdout, stderr });
      }
    };
    child.stdout.setEncoding('utf8').on('data', (s: string) => ((stdout += s), check()));
    child.stderr.setEncoding('utf8').on('data', (s: string) => ((stderr += s), check()));
    // Generous: the lines come as soon as the thread has started; on the old relay they never do.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the spinning thread's output did not arrive (main ${mode})\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 40_000);
    child.once('exit', (code) => {
      if (code !== null) reject(new Error(`the program exited (${code}) before printing\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
}

describe('currentThread, sleepSync and a Thread\'s output', { concurrency: true }, () => {
  it('currentThread() in the main thread is MainThread, ident 0', () => {
    assert.deepEqual(currentThread(), { name: 'MainThread', ident: 0, isMain: true });
  });

  it('in a Thread: the name it was given and its ident; without a name, Thread-N', { timeout: 60_000 }, async () => {
    const [here, there] = Pipe();
    const t = new Thread({ target: threadTasks.sendCurrentThread, args: [there], name: 'downloader' }).start();
    const info = (await here.recv()) as ThreadInfo;
    await t.join();
    assert.deepEqual(info, { name: 'downloader', ident: t.ident ?? info.ident, isMain: false });
    assert.notEqual(info.ident, 0);
    const [a, b] = Pipe();
    const unnamed = new Thread({ target: threadTasks.sendCurrentThread, args: [b] }).start();
    assert.equal(((await a.recv()) as ThreadInfo).name, unnamed.name);
    assert.match(unnamed.name, /^Thread-\d+$/);
    await unnamed.join();
  });

  it('in a thread-pool worker it is ThreadPoolExecutor-P_W; in a process-pool worker, that process\'s MainThread', { timeout: 60_000 }, async () => {
    await using threads = new ThreadPoolExecutor({ maxWorkers: 1 });
    const inThread = await threads.submit(threadTasks.current);
    assert.match(inThread.name, /^ThreadPoolExecutor-\d+_0$/);
    assert.equal(inThread.isMain, false);
    assert.notEqual(inThread.ident, threadId);
    await using processes = new ProcessPoolExecutor({ maxWorkers: 1 });
    assert.deepEqual(await processes.submit(threadTasks.current), { name: 'MainThread', ident: 0, isMain: true });
    assert.match(await processes.submit(threadTasks.processName), /^SpawnProcess-\d+$/); // Python's name for it
  });

  it('sleepSync blocks this thread for the time asked, timers included; a bad time is refused', () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const t0 = performance.now();
    sleepSync(60);
    assert.ok(performance.now() - t0 >= 59, `slept ${performance.now() - t0} ms`);
    assert.equal(fired, false, 'a timer ran during sleepSync');
    sleepSync(0);
    assert.throws(() => sleepSync(-1), /ms must be a finite number of milliseconds >= 0/);
    assert.throws(() => sleepSync(Number.NaN), RangeError);
    for (const bad of [undefined, null, '10']) assert.throws(() => sleepSync(bad as never), (e) => e instanceof TypeError && /sleepSync: ms must be a number/.test(e.message), String(bad));
  });

  it('a Thread spinning in a synchronous loop still gets its lines to stdout and stderr', { timeout: 60_000 }, async () => {
    const { stdout } = await printedWhileSpinning('free');
    assert.match(stdout, /spinner: line 1\nspinner: line 2\nspinner: line 3\n/);
  });

  it('and so it does while the main thread is blocked in sleepSync', { timeout: 60_000 }, async () => {
    const { stdout } = await printedWhileSpinning('blocked');
    assert.match(stdout, /spinner: line 1\nspinner: line 2\nspinner: line 3\n/);
  });
});
