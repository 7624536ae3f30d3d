#!/usr/bin/env node
// The distributed level against BullMQ used directly: N tiny jobs (x + 1) through one
// Redis queue to one worker process, from the first submission to the last result.
//   bullmq        Queue.addBulk (500 a trip) + QueueEvents counting 'completed'; a Worker
//                 whose processor is x + 1 (no serialization, no signature, no pool)
//   concur        RedisExecutor.submit for each item, awaiting every Future; `concur worker
//                 --pool async` (signed jobs, structured-clone payloads, results checked)
//   concur map/100  RedisExecutor.map with chunksize 100: a job carries 100 items
// Each trial has a fresh queue and a worker process started before the clock; the
// variants alternate within a round; the table gives medians of the rounds.
//
//   npm run bench:redis [-- items=20000 rounds=3 concurrency=16]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { RedisExecutor } from '../dist/redis/index.js';
import { redisBench } from './workers/redis-tasks.mjs';

const [N = 20_000, ROUNDS = 3, CONCURRENCY = 16] = process.argv.slice(2).map(Number);
const URL_ = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const KEY = randomBytes(24).toString('hex');
const BIN = fileURLToPath(new URL('../bin/concur.js', import.meta.url));
const TASKS = fileURLToPath(new URL('./workers/redis-tasks.mjs', import.meta.url));
const BULL_WORKER = fileURLToPath(new URL('./workers/bullmq-worker.mjs', import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Starts a worker process and resolves once it printed its ready line. */
function startWorker(args, ready) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CONCUR_KEY: KEY } });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      if (ready.test(out)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
  });
}

/** CPU ms a process has used (user + system), from /proc; undefined off Linux. */
function cpuMsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

const mine = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function stop(child) {
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

async function obliterate(queue) {
  const q = new Queue(queue, { connection: { url: URL_ } });
  await q.obliterate({ force: true });
  await q.close();
}

async function bullmq(queue) {
  const worker = await startWorker([BULL_WORKER, URL_, queue, String(CONCURRENCY)], /ready/);
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
  const w0 = cpuMsOf(worker.pid);
  for (let i = 0; i < N; i += 500) {
    await q.addBulk(Array.from({ length: Math.min(500, N - i) }, (_, j) => ({ name: 'inc', data: { x: i + j } })));
  }
  await all;
  clearInterval(poll);
  const ms = performance.now() - t0;
  const cpu = { submitter: mine() - c0, worker: cpuMsOf(worker.pid) - w0 };
  // Events still on their way are not missed: count once none has come for half a second.
  for (let before = -1; before !== seen; ) {
    before = seen;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (seen === N && sum !== (N * (N + 1)) / 2) throw new Error(`bullmq: wrong sum ${sum}`);
  await Promise.all([events.close(), q.close()]);
  await stop(worker);
  return { ms, cpu, missed: N - seen };
}

async function concur(queue, chunksize) {
  const worker = await startWorker([BIN, 'worker', '--redis', URL_, '--queue', queue, '--tasks', TASKS, '--pool', 'async', '--workers', String(CONCURRENCY)], /serving queue/);
  const ex = new RedisExecutor({ connection: URL_, queue, key: KEY });
  const items = Array.from({ length: N }, (_, i) => i);
  const t0 = performance.now();
  const c0 = mine();
  const w0 = cpuMsOf(worker.pid);
  let sum = 0;
  if (chunksize === undefined) {
    for (const r of await Promise.all(items.map((x) => ex.submit(redisBench.inc, x)))) sum += r;
  } else {
    for await (const r of ex.map(redisBench.inc, items, { chunksize })) sum += r;
  }
  const ms = performance.now() - t0;
  const cpu = { submitter: mine() - c0, worker: cpuMsOf(worker.pid) - w0 };
  if (sum !== (N * (N + 1)) / 2) throw new Error(`concur: wrong sum ${sum}`);
  await ex.shutdown();
  await stop(worker);
  return { ms, cpu, missed: 0 };
}

const variants = {
  bullmq: (q) => bullmq(q),
  concur: (q) => concur(q, undefined),
  'concur map/100': (q) => concur(q, 100),
};
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = Object.keys(variants);
  for (let i = 0; i < round % order.length; i++) order.push(order.shift());
  for (const name of order) {
    const queue = `${process.env.BENCH_QUEUE_PREFIX || "concur-bench"}-${process.pid}-${randomBytes(3).toString('hex')}`;
    try {
      times[name].push(await variants[name](queue));
    } finally {
      await obliterate(queue);
    }
    const last = times[name].at(-1);
    process.stderr.write(`round ${round + 1}: ${name} ${Math.round(last.ms)} ms (CPU: submitter ${Math.round(last.cpu.submitter)} ms, worker ${last.cpu.worker} ms; missed events ${last.missed})\n`);
  }
}
console.log(`\n${N} jobs of x + 1, one worker process (concurrency ${CONCURRENCY}), Redis at ${URL_}; medians of ${ROUNDS} rounds\n`);
console.log('| variant | time | jobs/s | vs bullmq | CPU us/job: submitter | worker | results not seen in events |');
console.log('|---|---|---|---|---|---|---|');
const base = median(times.bullmq.map((t) => t.ms));
for (const [name, ts] of Object.entries(times)) {
  const m = median(ts.map((t) => t.ms));
  const perJob = (xs) => Math.round((median(xs) * 1000) / N);
  console.log(
    `| ${name} | ${Math.round(m)} ms | ${Math.round(N / (m / 1000))} | ${(m / base).toFixed(2)}x | ${perJob(ts.map((t) => t.cpu.submitter))} | ${perJob(ts.map((t) => t.cpu.worker))} | ${ts.map((t) => t.missed).join(', ')} |`,
  );
}
console.log('\n(CPU time is measured, so it is steadier than the wall time on a shared machine; the CPU of Redis itself is not counted.)');
