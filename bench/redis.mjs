#!/usr/bin/env node
// The distributed level against BullMQ used directly, on one Redis.
//
// throughput: N tiny jobs (x + 1) through one queue to W worker processes (W = 1, then 4),
// from the first submission to the last result:
//   bullmq        Queue.addBulk (500 a trip) + QueueEvents counting 'completed'; Workers
//                 whose processor is x + 1 (no serialization, no signature, no pool)
//   concur        RedisExecutor.submit for each item, awaiting every Future; `concur worker
//                 --pool async` (signed jobs, encoded payloads, results checked)
//   concur map/100  RedisExecutor.map with chunksize 100: a job carries 100 items
// roundtrip: submit one job, wait for its result, then the next (one worker process):
//   bullmq        queue.add + job.waitUntilFinished(queueEvents)
//   concur        await executor.submit(...)
// failover: 4 `concur worker` processes serve jobs that nap 300 ms; one is SIGKILLed
//   mid-load, once it holds jobs; the time from the kill until every job it held has its
//   result from another worker (defaults: lock 5 s, stalled check every 1 s).
// Each trial has a fresh queue and worker processes started before the clock; variants
// alternate within a round, their order rotating; tables give medians of the rounds.
// Raw trials go to bench/results/redis-latest.json.
//
//   npm run bench:redis [-- items=20000 rounds=3 concurrency=16 workers=1,4 trips=2000 failovers=5 only=throughput,roundtrip,failover]
//   (queue names start with $BENCH_QUEUE_PREFIX, default concur-bench)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { RedisExecutor } from '../dist/redis/index.js';
import { redisBench, redisNap } from './workers/redis-tasks.mjs';
import { startWorker } from './start-worker.mjs';

const arg = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const N = Number(arg.items ?? 20_000);
const ROUNDS = Number(arg.rounds ?? 3);
const CONCURRENCY = Number(arg.concurrency ?? 16);
const WORKERS = (arg.workers ?? '1,4').split(',').map(Number);
const TRIPS = Number(arg.trips ?? 2000);
const FAILOVERS = Number(arg.failovers ?? 5);
const ONLY = new Set((arg.only ?? 'throughput,roundtrip,failover').split(','));
const PREFIX = process.env.BENCH_QUEUE_PREFIX || 'concur-bench';
const URL_ = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const KEY = randomBytes(24).toString('hex');
const startWorkerWith = (args, ready) => startWorker(args, ready, KEY);
const BIN = fileURLToPath(new URL('../bin/concur.js', import.meta.url));
const TASKS = fileURLToPath(new URL('./workers/redis-tasks.mjs', import.meta.url));
const BULL_WORKER = fileURLToPath(new URL('./workers/bullmq-worker.mjs', import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
const newQueue = () => `${PREFIX}-${process.pid}-${randomBytes(3).toString('hex')}`;
const raw = { date: new Date().toISOString(), redis: URL_, items: N, rounds: ROUNDS, concurrency: CONCURRENCY, loadBefore: load() };

const concurWorker = (queue, extra = []) =>
  startWorkerWith([BIN, 'worker', '--redis', URL_, '--queue', queue, '--tasks', TASKS, '--pool', 'async', '--workers', String(CONCURRENCY), ...extra], /serving queue/);
const bullWorker = (queue) => startWorkerWith([BULL_WORKER, URL_, queue, String(CONCURRENCY)], /ready/);

/** CPU ms a process has used (user + system), from /proc; undefined off Linux. */
function cpuMsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}
const workersCpu = (ws) => ws.reduce((sum, w) => sum + cpuMsOf(w.pid), 0);

const mine = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

async function obliterate(queue) {
  const q = new Queue(queue, { connection: { url: URL_ } });
  await q.obliterate({ force: true });
  await q.close();
}

async function bullmq(queue, nWorkers) {
  const workers = await Promise.all(Array.from({ length: nWorkers }, () => bullWorker(queue)));
  const q = new Queue(queue, { connection: { url: URL_ } });
  const events = new QueueEvents(queue, { connection: { url: URL_ } });
  await events.waitUntilReady();
  // Results as BullMQ users usually take them: from QueueEvents. The stream is trimmed
  // (about 10,000 events), so a reader that lags loses some; the completed count read
  // from Redis ends the trial then, and the table says how many events were missed.
  let seen = 0;
  let sum = 0;
  let settle;
  const all = new Promise((resolve) => (settle = resolve));
  events.on('completed', ({ returnvalue }) => {
    sum += Number(returnvalue);
    if (++seen === N) settle();
  });
  const poll = setInterval(() => {
    void q.getJobCounts('completed').then((c) => c.completed === N && settle());
  }, 250);
  const t0 = performance.now();
  const c0 = mine();
  const w0 = workersCpu(workers);
  for (let i = 0; i < N; i += 500) {
    await q.addBulk(Array.from({ length: Math.min(500, N - i) }, (_, j) => ({ name: 'inc', data: { x: i + j } })));
  }
  await all;
  clearInterval(poll);
  const ms = performance.now() - t0;
  const cpu = { submitter: mine() - c0, worker: workersCpu(workers) - w0 };
  // Events still on their way are not missed: count once none has come for half a second.
  for (let before = -1; before !== seen; ) {
    before = seen;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (seen === N && sum !== (N * (N + 1)) / 2) throw new Error(`bullmq: wrong sum ${sum}`);
  await Promise.all([events.close(), q.close()]);
  await Promise.all(workers.map(stop));
  return { ms, cpu, missed: N - seen };
}

async function concur(queue, nWorkers, chunksize) {
  const workers = await Promise.all(Array.from({ length: nWorkers }, () => concurWorker(queue)));
  const ex = new RedisExecutor({ connection: URL_, queue, key: KEY });
  const items = Array.from({ length: N }, (_, i) => i);
  const t0 = performance.now();
  const c0 = mine();
  const w0 = workersCpu(workers);
  let sum = 0;
  if (chunksize === undefined) {
    for (const r of await Promise.all(items.map((x) => ex.submit(redisBench.inc, x)))) sum += r;
  } else {
    for await (const r of ex.map(redisBench.inc, items, { chunksize })) sum += r;
  }
  const ms = performance.now() - t0;
  const cpu = { submitter: mine() - c0, worker: workersCpu(workers) - w0 };
  if (sum !== (N * (N + 1)) / 2) throw new Error(`concur: wrong sum ${sum}`);
  await ex.shutdown();
  await Promise.all(workers.map(stop));
  return { ms, cpu, missed: 0 };
}

/** Runs `variants` ROUNDS times, alternating (the order rotates), each on a fresh queue. */
async function rounds(variants, label) {
  const trials = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = Object.keys(variants);
    for (let i = 0; i < round % order.length; i++) order.push(order.shift());
    for (const name of order) {
      const queue = newQueue();
      let t;
      try {
        t = await variants[name](queue);
      } finally {
        await obliterate(queue);
      }
      t.load = loadavg()[0];
      trials[name].push(t);
      process.stderr.write(`${label} round ${round + 1}: ${name} ${JSON.stringify(t, (k, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : k === 'samples' ? undefined : v))}\n`);
    }
  }
  return trials;
}

async function throughput(nWorkers) {
  const trials = await rounds(
    {
      bullmq: (q) => bullmq(q, nWorkers),
      concur: (q) => concur(q, nWorkers, undefined),
      'concur map/100': (q) => concur(q, nWorkers, 100),
    },
    `throughput x${nWorkers}`,
  );
  raw[`throughput${nWorkers}`] = trials;
  console.log(`\n${N} jobs of x + 1, ${nWorkers} worker process(es) (concurrency ${CONCURRENCY} each), Redis at ${URL_}; medians of ${ROUNDS} rounds, load ${load()}\n`);
  console.log('| variant | time | jobs/s | time vs bullmq (median of rounds) | CPU us/job: submitter | workers | results not seen in events |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, ts] of Object.entries(trials)) {
    const m = median(ts.map((t) => t.ms));
    const ratio = median(ts.map((t, i) => t.ms / trials.bullmq[i].ms));
    const perJob = (xs) => Math.round((median(xs) * 1000) / N);
    console.log(
      `| ${name} | ${Math.round(m)} ms | ${Math.round(N / (m / 1000))} | ${ratio.toFixed(2)}x | ${perJob(ts.map((t) => t.cpu.submitter))} | ${perJob(ts.map((t) => t.cpu.worker))} | ${ts.map((t) => t.missed).join(', ')} |`,
    );
  }
}

async function tripsOf(once) {
  for (let i = 0; i < 100; i++) await once(); // warm-up: connections, JIT, the worker's task module
  const samples = [];
  for (let i = 0; i < TRIPS; i++) {
    const t0 = performance.now();
    await once();
    samples.push(performance.now() - t0);
  }
  return { ms: median(samples), p99: pct(samples, 99), samples };
}

async function roundtrip() {
  const trials = await rounds(
    {
      bullmq: async (queue) => {
        const worker = await bullWorker(queue);
        const q = new Queue(queue, { connection: { url: URL_ } });
        const events = new QueueEvents(queue, { connection: { url: URL_ } });
        await events.waitUntilReady();
        let x = 0;
        const r = await tripsOf(async () => {
          const job = await q.add('inc', { x: ++x });
          if ((await job.waitUntilFinished(events)) !== x + 1) throw new Error('bullmq: wrong result');
        });
        await Promise.all([events.close(), q.close()]);
        await stop(worker);
        return r;
      },
      concur: async (queue) => {
        const worker = await concurWorker(queue);
        const ex = new RedisExecutor({ connection: URL_, queue, key: KEY });
        let x = 0;
        const r = await tripsOf(async () => {
          if ((await ex.submit(redisBench.inc, ++x)) !== x + 1) throw new Error('concur: wrong result');
        });
        await ex.shutdown();
        await stop(worker);
        return r;
      },
    },
    'roundtrip',
  );
  raw.roundtrip = Object.fromEntries(Object.entries(trials).map(([k, ts]) => [k, ts.map(({ samples, ...t }) => t)]));
  console.log(`\nSequential round trip (submit, wait for the result, next), ${TRIPS} trips a round after 100 to warm up, one worker process; all rounds' trips pooled, load ${load()}\n`);
  console.log('| variant | median | p99 |');
  console.log('|---|---|---|');
  for (const [name, ts] of Object.entries(trials)) {
    const all = ts.flatMap((t) => t.samples);
    console.log(`| ${name} | ${median(all).toFixed(2)} ms | ${pct(all, 99).toFixed(2)} ms |`);
  }
}

async function failover() {
  const results = [];
  for (let trial = 0; trial < FAILOVERS; trial++) {
    const queue = newQueue();
    const workers = await Promise.all([0, 1, 2, 3].map((i) => concurWorker(queue, ['--workers', '4', '--name', `w${i}`])));
    const ex = new RedisExecutor({ connection: URL_, queue, key: KEY });
    const q = new Queue(queue, { connection: { url: URL_ } });
    try {
      const futures = new Map();
      for (let i = 0; i < 160; i++) {
        const f = ex.submit(redisNap.nap, 300);
        futures.set(f.jobId, f);
      }
      // Under load (1 s in), and once the victim holds jobs: on a busy machine it can be slow to take its first.
      await new Promise((r) => setTimeout(r, 1000));
      const victim = workers[trial % 4];
      const holds = async () => (await q.getActive()).some((j) => j.processedBy === `w${trial % 4}`);
      for (const end = Date.now() + 20_000; !(await holds()) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      victim.kill('SIGKILL');
      const killedAt = performance.now();
      const held = (await q.getActive()).filter((j) => j.processedBy === `w${trial % 4}`).map((j) => futures.get(j.id));
      const ranAgain = await Promise.all(held.map((f) => f.result().then((pid) => ({ pid, at: performance.now() - killedAt }))));
      await Promise.all([...futures.values()].map((f) => f.result()));
      if (ranAgain.some((r) => r.pid === victim.pid)) throw new Error('a held job finished on the killed worker');
      const ms = Math.max(0, ...ranAgain.map((r) => r.at));
      results.push({ ms, held: held.length, load: loadavg()[0] });
      process.stderr.write(`failover ${trial + 1}: ${held.length} jobs held by the killed worker, all done elsewhere ${Math.round(ms)} ms after the kill\n`);
    } finally {
      await ex.shutdown();
      await q.close();
      await Promise.all(workers.map(stop));
      await obliterate(queue);
    }
  }
  raw.failover = results;
  console.log(
    `\nFailover: 4 concur workers (--pool async --workers 4) serving 160 jobs of 300 ms; one SIGKILLed after 1 s, holding jobs; time until the jobs it held were done elsewhere: ` +
      `median ${(median(results.map((r) => r.ms)) / 1000).toFixed(1)} s of ${FAILOVERS} (${results.map((r) => (r.ms / 1000).toFixed(1)).join(', ')} s; ${results.map((r) => r.held).join(', ')} jobs held), load ${load()}`,
  );
}

if (ONLY.has('throughput')) for (const w of WORKERS) await throughput(w);
if (ONLY.has('roundtrip')) await roundtrip();
if (ONLY.has('failover')) await failover();
raw.loadAfter = load();
console.log('\n(CPU time is measured, so it is steadier than the wall time on a shared machine; the CPU of Redis itself is not counted.)');
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}redis-latest.json`, `${JSON.stringify(raw, null, 1)}\n`);
