// Scenario 1: ten tasks on a pool of four, submitted one by one and all at once,
// on a process pool and (one constructor changed) a thread pool.
import { isMain, ProcessPoolExecutor, ThreadPoolExecutor } from 'concur';
import { tasks } from './tasks.js';

const kinds = { process: ProcessPoolExecutor, thread: ThreadPoolExecutor };

if (isMain()) {
  const Pool = kinds[(process.argv[2] ?? 'process') as keyof typeof kinds];
  // Synchronous style: wait for each result before submitting the next.
  {
    await using pool = new Pool({ maxWorkers: 4 });
    const started = performance.now();
    const results: number[] = [];
    for (let i = 0; i < 10; i++) results.push(await pool.submit(tasks.work, i, 20));
    console.log(`one by one: ${results.join(' ')} in ${Math.round(performance.now() - started)} ms`);
  }

  // Asynchronous style: submit all ten, print each as it finishes, then shut down.
  const pool = new Pool({ maxWorkers: 4 });
  const started = performance.now();
  const done: number[] = [];
  for (let i = 0; i < 10; i++) {
    pool.submit(tasks.work, i, 20).addDoneCallback((f) => f.result().then((r) => done.push(r)));
  }
  await pool.shutdown({ wait: true });
  console.log(`all at once: ${done.sort((a, b) => a - b).join(' ')} in ${Math.round(performance.now() - started)} ms`);
}
