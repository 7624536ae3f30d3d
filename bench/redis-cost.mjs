#!/usr/bin/env node
// What one tiny job costs, counted rather than timed: Redis commands per job (INFO
// commandstats before and after, Lua scripts' own commands included), bytes in and out of
// Redis, Redis's CPU, and CPU per job in the submitter and in the worker process, for
// BullMQ used directly and for concur, as bench/redis.mjs runs them (one worker process).
// Counts are only clean when nothing else uses this Redis meanwhile.
//
//   node bench/redis-cost.mjs [items=5000 rounds=3 only=bullmq,concur]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisExecutor } from '../dist/redis/index.js';
import { redisBench } from './workers/redis-tasks.mjs';
import { startWorker } from './start-worker.mjs';

const arg = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const N = Number(arg.items ?? 5000);
const ROUNDS = Number(arg.rounds ?? 3);
const ONLY = (arg.only ?? 'bullmq,concur').split(',');
const URL_ = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const KEY = randomBytes(24).toString('hex');
const BIN = fileURLToPath(new URL('../bin/concur.js', import.meta.url));
const TASKS = fileURLToPath(new URL('./workers/redis-tasks.mjs', import.meta.url));
const BULL_WORKER = fileURLToPath(new URL('./workers/bullmq-worker.mjs', import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const admin = new Redis(URL_);

function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
const mine = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function snapshot() {
  const text = await admin.info('all');
  const calls = {};
  let m;
  const re = /^cmdstat_([^:]+):calls=(\d+)/gm;
  while ((m = re.exec(text))) calls[m[1]] = Number(m[2]);
  const num = (k) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return { calls, in: num('total_net_input_bytes'), out: num('total_net_output_bytes'), cpu: num('used_cpu_user') + num('used_cpu_sys') };
}

function diff(a, b) {
  const calls = {};
  for (const [k, v] of Object.entries(b.calls)) if (v - (a.calls[k] ?? 0) > 0) calls[k] = v - (a.calls[k] ?? 0);
  return { calls, in: b.in - a.in, out: b.out - a.out, cpu: (b.cpu - a.cpu) * 1000 };
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

async function bullmq(queue) {
  const worker = await startWorker([BULL_WORKER, URL_, queue, '16'], /ready/, KEY);
  const q = new Queue(queue, { connection: { url: URL_ } });
  const events = new QueueEvents(queue, { connection: { url: URL_ } });
  await events.waitUntilReady();
  let seen = 0;
  let settle;
  const all = new Promise((resolve) => (settle = resolve));
  events.on('completed', () => ++seen === N && settle());
  const s0 = await snapshot();
  const c0 = mine();
  const w0 = cpuMsOf(worker.pid);
  for (let i = 0; i < N; i += 500) await q.addBulk(Array.from({ length: Math.min(500, N - i) }, (_, j) => ({ name: 'inc', data: { x: i + j } })));
  await all;
  const cpu = { submitter: mine() - c0, worker: cpuMsOf(worker.pid) - w0 };
  const redis = diff(s0, await snapshot());
  await Promise.all([events.close(), q.close()]);
  await stop(worker);
  return { cpu, redis };
}

async function concur(queue) {
  const worker = await startWorker([BIN, 'worker', '--redis', URL_, '--queue', queue, '--tasks', TASKS, '--pool', 'async', '--workers', '16'], /serving queue/, KEY);
  const ex = new RedisExecutor({ connection: URL_, queue, key: KEY });
  await ex.submit(redisBench.inc, 0); // connected, and the worker's task module loaded
  const s0 = await snapshot();
  const c0 = mine();
  const w0 = cpuMsOf(worker.pid);
  await Promise.all(Array.from({ length: N }, (_, i) => ex.submit(redisBench.inc, i)));
  const cpu = { submitter: mine() - c0, worker: cpuMsOf(worker.pid) - w0 };
  const redis = diff(s0, await snapshot());
  await ex.shutdown();
  await stop(worker);
  return { cpu, redis };
}

const variants = { bullmq, concur };
const trials = Object.fromEntries(ONLY.map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 ? [...ONLY].reverse() : ONLY) {
    const queue = `concur-cost-${process.pid}-${randomBytes(3).toString('hex')}`;
    const t = await variants[name](queue);
    const q = new Queue(queue, { connection: { url: URL_ } });
    await q.obliterate({ force: true });
    await q.close();
    trials[name].push(t);
    process.stderr.write(`round ${round + 1} ${name}: cpu us/job submitter ${((t.cpu.submitter * 1000) / N).toFixed(0)} worker ${((t.cpu.worker * 1000) / N).toFixed(0)} redis ${((t.redis.cpu * 1000) / N).toFixed(0)}, load ${loadavg()[0].toFixed(1)}\n`);
  }
}
console.log(`\n${N} jobs of x + 1, one worker process (concurrency 16); medians of ${ROUNDS} rounds, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
for (const [name, ts] of Object.entries(trials)) {
  const per = (f) => median(ts.map(f)) / N;
  const cmds = new Set(ts.flatMap((t) => Object.keys(t.redis.calls)));
  const total = per((t) => Object.values(t.redis.calls).reduce((a, b) => a + b, 0));
  console.log(`${name}: CPU us/job submitter ${(per((t) => t.cpu.submitter) * 1000).toFixed(0)}, worker ${(per((t) => t.cpu.worker) * 1000).toFixed(0)}, redis ${(per((t) => t.redis.cpu) * 1000).toFixed(0)}; bytes/job in ${per((t) => t.redis.in).toFixed(0)}, out ${per((t) => t.redis.out).toFixed(0)}; commands/job ${total.toFixed(2)}`);
  console.log('  ' + [...cmds].sort().map((c) => `${c} ${per((t) => t.redis.calls[c] ?? 0).toFixed(3)}`).join(', '));
}
admin.disconnect();
