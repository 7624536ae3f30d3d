// Scenario 1: ten tasks on a pool of four, submitted one by one and all at once,
// on a process pool and (one constructor changed) a thread pool. Both pools start their
// workers before the clock: the times compare the two styles, not process start-up.
import { isMain, ProcessPoolExecutor, ThreadPoolExecutor } from 'concur';
import { tasks } from './tasks.js';

const kinds = { process: ProcessPoolExecutor, thread: ThreadPoolExecutor };

/** Starts all four workers (they start on demand), so that the clocks below time the tasks, not process start-up. */
async function warm(pool: ProcessPoolExecutor | ThreadPoolExecutor): Promise<void> {
  await Promise.all(Array.from({ length: 4 }, () => pool.submit(tasks.work, 0, 50)));
}

if (isMain()) {
  const Pool = kinds[(process.argv[2] ?? 'process') as keyof typeof kinds];
  // Synchronous style: wait for each result before submitting the next.
  {
    await using pool = new Pool({ maxWorkers: 4 });
    await warm(pool);
    const started = performance.now();
    const results: number[] = [];
    for (let i = 0; i < 10; i++) results.push(await pool.submit(tasks.work, i, 20));
    console.log(`one by one: ${results.join(' ')} in ${Math.round(performance.now() - started)} ms`);
  }

  // Asynchronous style: submit all ten, print each as it finishes, then shut down.
  const pool = new Pool({ maxWorkers: 4 });
  await warm(pool);
  const started = performance.now();
  const done: number[] = [];
  for (let i = 0; i < 10; i++) {
    pool.submit(tasks.work, i, 20).addDoneCallback((f) => f.result().then((r) => done.push(r)));
  }
  await pool.shutdown({ wait: true });
  console.log(`all at once: ${done.sort((a, b) => a - b).join(' ')} in ${Math.round(performance.now() - started)} ms`);
}
