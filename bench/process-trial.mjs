// One measurement of one process-level workload on one pool, in a process of its own.
import { createProcessPool } from './process-peers.mjs';
import { fibBatch, firstResult, roundTrips, tinyTasks, warm } from './workloads.mjs';

const [peer, workload] = process.argv.slice(2);
const env = (name, fallback) => Number(process.env[name] ?? fallback);
const TINY = env('BENCH_PROCESS_TINY', 20_000);
const ROUND_TRIPS = env('BENCH_PROCESS_ROUND_TRIPS', 5_000);
const MAP_ITEMS = env('BENCH_MAP_ITEMS', 1_000_000);
const PIPE_TRIPS = env('BENCH_PIPE_TRIPS', 20_000);
const PIPE_WARMUP = env('BENCH_PIPE_WARMUP', 5_000);
const FIBS = env('BENCH_FIBS', 48);
const FIB_N = env('BENCH_FIB_N', 30);
const FACE_CHUNK = env('BENCH_FACE_CHUNK', 5_000);
const APPLY_TASKS = env('BENCH_APPLY_TASKS', 20_000);
const APPLY_BATCHES = env('BENCH_APPLY_BATCHES', 3);

const workloads = {
  async ptiny() {
    const pool = await createProcessPool(peer, 2);
    await warm(pool, 2, 20);
    const result = await tinyTasks(pool, TINY);
    await pool.close();
    return result;
  },
  async proundtrip() {
    const pool = await createProcessPool(peer, 2);
    await warm(pool, 2, 20);
    const result = await roundTrips(pool, ROUND_TRIPS, 500);
    await pool.close();
    return result;
  },
  async pfib2() {
    const pool = await createProcessPool(peer, 2);
    await warm(pool, 2, 20);
    const result = await fibBatch(pool, FIBS, FIB_N);
    await pool.close();
    return result;
  },
  pstartup() {
    return firstResult(() => createProcessPool(peer, 2));
  },
  // concur only: the peers have no map; compared with CPython's Pool.map.
  async pmap() {
    const { pool, tasks } = await createProcessPool('concur', 2);
    await Promise.all([pool.submit(tasks.inc, 1), pool.submit(tasks.inc, 2)]);
    const input = Array.from({ length: MAP_ITEMS }, (_, i) => i);
    const t0 = performance.now();
    let n = 0;
    for await (const y of pool.map(tasks.inc, input, { chunksize: 'auto' })) if (y === ++n) void 0;
    const ms = performance.now() - t0;
    if (n !== MAP_ITEMS) throw new Error('map lost items');
    await pool.shutdown();
    return { itemsPerSec: MAP_ITEMS / (ms / 1000) };
  },
  // concur only: multiprocessing.Pool's map against ProcessPoolExecutor.map, same items
  // and chunks, alternating in one process so noise falls on both alike.
  async pfacemap() {
    const { Pool, ProcessPoolExecutor } = await import('../dist/index.js');
    const { tasks } = await import('./workers/concur-tasks.mjs');
    const input = Array.from({ length: MAP_ITEMS }, (_, i) => i);
    const executor = new ProcessPoolExecutor({ maxWorkers: 2 });
    const pool = new Pool(2);
    await Promise.all([executor.submit(tasks.inc, 1), executor.submit(tasks.inc, 2), pool.apply(tasks.inc, [1]), pool.apply(tasks.inc, [2])]);
    const runs = { executor: [], pool: [] };
    for (let rep = 0; rep < 3; rep++) {
      let t0 = performance.now();
      let n = 0;
      for await (const y of executor.map(tasks.inc, input, { chunksize: FACE_CHUNK })) if (y === ++n) void 0;
      if (n !== MAP_ITEMS) throw new Error('executor map lost items');
      runs.executor.push(performance.now() - t0);
      t0 = performance.now();
      const out = await pool.map(tasks.inc, input, FACE_CHUNK);
      if (out.length !== MAP_ITEMS || out[MAP_ITEMS - 1] !== MAP_ITEMS) throw new Error('Pool.map lost items');
      runs.pool.push(performance.now() - t0);
    }
    await executor.shutdown();
    pool.close();
    await pool.join();
    const best = (xs) => Math.min(...xs);
    return {
      executorItemsPerSec: MAP_ITEMS / (best(runs.executor) / 1000),
      poolItemsPerSec: MAP_ITEMS / (best(runs.pool) / 1000),
      poolOverExecutor: best(runs.executor) / best(runs.pool),
    };
  },
  // Pool.applyAsync of many tiny tasks, every result awaited (CPython: apply_async).
  // The first batch is the figure of record; the best of APPLY_BATCHES batches in the
  // same pool is beside it, as pfacemap takes its best, since V8 compiles the first
  // batch's code as it runs and CPython compiles nothing.
  async papply() {
    const { Pool } = await import('../dist/index.js');
    const { tasks } = await import('./workers/concur-tasks.mjs');
    const pool = new Pool(2);
    await Promise.all(Array.from({ length: 40 }, (_, i) => pool.apply(tasks.inc, [i])));
    const rates = [];
    for (let batch = 0; batch < APPLY_BATCHES; batch++) {
      const t0 = performance.now();
      const results = Array.from({ length: APPLY_TASKS }, (_, i) => pool.applyAsync(tasks.inc, [i]));
      let last;
      for (const r of results) last = await r.get();
      const ms = performance.now() - t0;
      if (last !== APPLY_TASKS) throw new Error('applyAsync lost a result');
      rates.push(APPLY_TASKS / (ms / 1000));
    }
    pool.close();
    await pool.join();
    return { tasksPerSec: rates[0], bestTasksPerSec: Math.max(...rates) };
  },
  // concur only: Pipe round trips between this process and a child, against CPython's Pipe.
  async ppipe() {
    const { Pipe, Process } = await import('../dist/index.js');
    const { pipeTasks } = await import('./workers/concur-pipe.mjs');
    const [here, there] = Pipe();
    const child = new Process({ target: pipeTasks.echo, args: [there] }).start();
    // Warmed up as the pools' round trips are: the first few thousand run while V8
    // still compiles the loop on the same two cores.
    for (let i = 0; i < PIPE_WARMUP; i++) {
      here.send(i);
      await here.recv();
    }
    const t0 = performance.now();
    for (let i = 0; i < PIPE_TRIPS; i++) {
      here.send(i);
      await here.recv();
    }
    const ms = performance.now() - t0;
    here.send(-1);
    await child.join();
    return { roundTripsPerSec: PIPE_TRIPS / (ms / 1000) };
  },
};

const result = await workloads[workload]();
console.log(JSON.stringify({ peer, workload, ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
process.exit(0);
