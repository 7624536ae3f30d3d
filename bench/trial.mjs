// One measurement of one workload on one pool, in a process of its own, so that its
// peak RSS is its own. Prints one JSON line. Run by bench/run.mjs.
import { build } from 'hdr-histogram-js';
import { createPool } from './peers.mjs';

const [peer, workload] = process.argv.slice(2);
const env = (name, fallback) => Number(process.env[name] ?? fallback);
const TINY = env('BENCH_TINY', 200_000);
const ROUND_TRIPS = env('BENCH_ROUND_TRIPS', 20_000);
const FIBS = env('BENCH_FIBS', 48);
const FIB_N = env('BENCH_FIB_N', 30);
const ECHOS = env('BENCH_ECHOS', 1000);
const MIB = 1 << 20;

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** Makes sure every worker has started and run a task before the clock starts. */
async function warm(pool, workers) {
  await Promise.all(Array.from({ length: workers * 50 }, (_, i) => pool.call('inc', i)));
  await Promise.all(Array.from({ length: workers }, () => pool.call('fib', 22)));
}

const workloads = {
  async tiny() {
    const pool = await createPool(peer, 2);
    await warm(pool, 2);
    const t0 = performance.now();
    const all = new Array(TINY);
    for (let i = 0; i < TINY; i++) all[i] = pool.call('inc', i);
    const results = await Promise.all(all);
    const ms = performance.now() - t0;
    if (results[TINY - 1] !== TINY) throw new Error('wrong result');
    await pool.close();
    return { tasksPerSec: TINY / (ms / 1000) };
  },
  async roundtrip() {
    const pool = await createPool(peer, 2);
    await warm(pool, 2);
    for (let i = 0; i < 2000; i++) await pool.call('inc', i);
    const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 });
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const t = process.hrtime.bigint();
      await pool.call('inc', i);
      h.recordValue(Number(process.hrtime.bigint() - t) / 1000);
    }
    await pool.close();
    return { medianUs: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99) };
  },
  async serial() {
    const t0 = performance.now();
    for (let i = 0; i < FIBS; i++) fib(FIB_N);
    return { ms: performance.now() - t0 };
  },
  async fib1() {
    return fibOn(1);
  },
  async fib2() {
    return fibOn(2);
  },
  async echoCopy() {
    const pool = await createPool(peer, 1);
    await warm(pool, 1);
    const buf = new ArrayBuffer(MIB);
    const t0 = performance.now();
    for (let i = 0; i < ECHOS; i++) {
      const back = await pool.call('echo', buf);
      if (back.byteLength !== MIB) throw new Error('wrong size');
    }
    const ms = performance.now() - t0;
    await pool.close();
    return { usPerEcho: (ms * 1000) / ECHOS };
  },
  async echoMove() {
    const pool = await createPool(peer, 1);
    await warm(pool, 1);
    let buf = new ArrayBuffer(MIB);
    const t0 = performance.now();
    for (let i = 0; i < ECHOS; i++) {
      buf = await pool.callMoved('echoMoved', buf);
      if (buf.byteLength !== MIB) throw new Error(`wrong size ${buf.byteLength}`);
    }
    const ms = performance.now() - t0;
    await pool.close();
    return { usPerEcho: (ms * 1000) / ECHOS };
  },
  async startup() {
    const t0 = performance.now();
    const pool = await createPool(peer, 2);
    await pool.call('inc', 1);
    const ms = performance.now() - t0;
    await pool.close();
    return { ms };
  },
};

async function fibOn(workers) {
  const pool = await createPool(peer, workers);
  await warm(pool, workers);
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: FIBS }, () => pool.call('fib', FIB_N)));
  const ms = performance.now() - t0;
  if (results[0] !== fib(FIB_N)) throw new Error('wrong fib');
  await pool.close();
  return { ms };
}

const result = await workloads[workload]();
console.log(JSON.stringify({ peer, workload, ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
