// The README's quick start, run by the test suite.
import { asCompleted, isMain, ThreadPoolExecutor, WorkerCrashedError, defineTasks } from 'concur';

export const quick = defineTasks(import.meta.url, {
  fib(n: number): number {
    return n < 2 ? n : quick.fib(n - 1) + quick.fib(n - 2);
  },
  forever(): never {
    for (;;);
  },
  die(): never {
    process.exit(3);
  },
});

if (isMain()) {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });

  // submit → Future<number>; await it (or .result(timeout), .addDoneCallback(...))
  console.log(`fib(25) = ${await pool.submit(quick.fib, 25)}`);

  // map keeps input order; chunksize batches tiny items
  const fibs: number[] = [];
  for await (const f of pool.map(quick.fib, [1, 2, 3, 4, 5, 6, 7, 8], { chunksize: 4 })) fibs.push(f);
  console.log(`map: ${fibs}`);

  // asCompleted hands back each Future as it finishes
  let n = 0;
  for await (const f of asCompleted([20, 21, 22].map((k) => pool.submit(quick.fib, k)))) {
    await f;
    n++;
  }
  console.log(`as completed: ${n} results`);

  // a timeout stops even a synchronous infinite loop; the pool replaces the worker
  const err = await pool.submitWith({ timeout: 100 }, quick.forever).exception();
  console.log(`timed out: ${(err as Error).name}`);

  // a worker that dies fails only its own task
  const crash = await pool.submit(quick.die).exception();
  console.log(`crashed: ${crash instanceof WorkerCrashedError ? crash.name : crash} (exit code ${(crash as WorkerCrashedError).exitCode})`);
  console.log(pool.stats());
}
