// The measurements both trial scripts share; a pool here is { call(name, arg), close() }.
import { build } from 'hdr-histogram-js';

/** Makes sure every worker has started and run a task before the clock starts. */
export async function warm(pool, workers, tinyPerWorker = 50) {
  await Promise.all(Array.from({ length: workers * tinyPerWorker }, (_, i) => pool.call('inc', i)));
  await Promise.all(Array.from({ length: workers }, () => pool.call('fib', 22)));
}

/** `n` tiny tasks submitted at once; tasks per second. */
export async function tinyTasks(pool, n) {
  const t0 = performance.now();
  const all = new Array(n);
  for (let i = 0; i < n; i++) all[i] = pool.call('inc', i);
  const results = await Promise.all(all);
  const ms = performance.now() - t0;
  if (results[n - 1] !== n) throw new Error('wrong result');
  return { tasksPerSec: n / (ms / 1000) };
}

/** `n` sequential round trips after `warmup` more; median and p99 in microseconds. */
export async function roundTrips(pool, n, warmup) {
  for (let i = 0; i < warmup; i++) await pool.call('inc', i);
  // Nanoseconds in, microseconds out: a 5 us round trip needs finer steps than 1 us.
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await pool.call('inc', i);
    h.recordValue(Number(process.hrtime.bigint() - t));
  }
  return { medianUs: h.getValueAtPercentile(50) / 1000, p99Us: h.getValueAtPercentile(99) / 1000 };
}

/** `count` x fib(`n`) submitted at once; milliseconds. */
export async function fibBatch(pool, count, n) {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: count }, () => pool.call('fib', n)));
  return { ms: performance.now() - t0 };
}

/** From constructing a pool to its first result; milliseconds. */
export async function firstResult(makePool) {
  const t0 = performance.now();
  const pool = await makePool();
  await pool.call('inc', 1);
  const ms = performance.now() - t0;
  await pool.close();
  return { ms };
}
