// One measurement of one workload on one pool, in a process of its own, so that its
// peak RSS is its own. Prints one JSON line. Run by bench/run.mjs.
import { createPool } from './peers.mjs';
import { fibBatch, firstResult, roundTrips, tinyTasks, warm } from './workloads.mjs';

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

const workloads = {
  async tiny() {
    const pool = await createPool(peer, 2);
    await warm(pool, 2);
    const result = await tinyTasks(pool, TINY);
    await pool.close();
    return result;
  },
  async roundtrip() {
    const pool = await createPool(peer, 2);
    await warm(pool, 2);
    const result = await roundTrips(pool, ROUND_TRIPS, 2000);
    await pool.close();
    return result;
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
  startup() {
    return firstResult(() => createPool(peer, 2));
  },
};

async function fibOn(workers) {
  const pool = await createPool(peer, workers);
  await warm(pool, workers);
  const result = await fibBatch(pool, FIBS, FIB_N);
  await pool.close();
  return result;
}

const result = await workloads[workload]();
console.log(JSON.stringify({ peer, workload, ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
