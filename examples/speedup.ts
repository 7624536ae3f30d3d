// Scenario 9: CPU-bound work on a process pool against the same work done serially.
import { cpuCount, defineTasks, isMain, ProcessPoolExecutor } from 'concur';

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
export const cpu = defineTasks(import.meta.url, { fib });

if (isMain()) {
  const N = Number(process.argv[2] ?? 32);
  const jobs = Number(process.argv[3] ?? 16);
  const t0 = performance.now();
  for (let i = 0; i < jobs; i++) fib(N);
  const serial = performance.now() - t0;

  const rows: Array<[string, number]> = [['serial', serial]];
  for (const workers of [1, 2, cpuCount()].filter((w, i, all) => all.indexOf(w) === i)) {
    await using pool = new ProcessPoolExecutor({ maxWorkers: workers });
    await Promise.all(Array.from({ length: workers }, () => pool.submit(cpu.fib, 5))); // start the workers
    const t = performance.now();
    await Promise.all(Array.from({ length: jobs }, () => pool.submit(cpu.fib, N)));
    rows.push([`${workers} process${workers > 1 ? 'es' : ''}`, performance.now() - t]);
  }
  console.log(`${jobs} x fib(${N}) on ${cpuCount()} CPUs`);
  console.log('| run         |   time ms | speedup |');
  console.log('|-------------|----------:|--------:|');
  for (const [name, ms] of rows) console.log(`| ${name.padEnd(11)} | ${ms.toFixed(0).padStart(9)} | ${(serial / ms).toFixed(2).padStart(6)}x |`);
}
