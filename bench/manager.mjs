#!/usr/bin/env node
// A Manager's DictProxy from child processes, beside CPython's multiprocessing.Manager
// (bench/python/manager_bench.py, the same workload): set+get pairs/s of one child, of
// `clients` children together, and the median and p99 latency of one get. The children
// call through their lanes (shared memory both sides poll, FIFOs as doorbells); further
// rows have them use lanes by FIFO alone (CONCUR_LANE_MEMORY=0, as where the native part
// is missing) and their helper threads (CONCUR_PROXY_LANES=0), as before lanes.
//
//   node bench/manager.mjs [pairs=20000] [clients=4] [rounds=3]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Manager, Process } from '../dist/index.js';
import { managerBench } from './workers/manager-tasks.mjs';

const [N = 20_000, CLIENTS = 4, ROUNDS = 3] = process.argv.slice(2).map(Number);

async function rate(m, clients, n) {
  const d = m.dict();
  const start = m.event();
  const out = m.queue();
  const ready = Array.from({ length: clients }, () => m.event());
  const procs = ready.map((r) => new Process({ target: managerBench.pairs, args: [d, n, r, start, out] }).start());
  for (const r of ready) await r.wait(); // every child connected and waiting
  const t0 = performance.now();
  start.set();
  for (let i = 0; i < clients; i++) await out.get();
  const elapsed = (performance.now() - t0) / 1000;
  await Promise.all(procs.map((p) => p.join()));
  return (clients * n) / elapsed;
}

async function concur() {
  const m = await Manager.start(); // plain JS (no `await using`): shut down by hand
  try {
    const one = await rate(m, 1, N);
    const many = await rate(m, CLIENTS, Math.floor(N / CLIENTS) * 2);
    const out = m.queue();
    const p = new Process({ target: managerBench.latency, args: [m.dict(), N, out] }).start();
    const [median, p99] = await out.get();
    await p.join();
    return { onePairsPerSec: one, manyPairsPerSec: many, clients: CLIENTS, medianUs: median, p99Us: p99, serverPeakRssMb: peakRssMb(m.pid) };
  } finally {
    await m.shutdown();
  }
}

/** A process's peak resident set in MiB (VmHWM; NaN where /proc is not there). */
function peakRssMb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    return Number(line.split(/\s+/)[1]) / 1024;
  } catch {
    return NaN;
  }
}

function cpython() {
  try {
    execFileSync('python3', ['-c', 'import multiprocessing'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const script = fileURLToPath(new URL('./python/manager_bench.py', import.meta.url));
  return JSON.parse(execFileSync('python3', [script, String(N), String(CLIENTS)], { encoding: 'utf8' }));
}

// Children read these variables when they start: each row sets them before its children.
const VARIANTS = [
  ['concur (lanes in shared memory)', {}],
  ['concur, lanes by FIFO only', { CONCUR_LANE_MEMORY: '0' }],
  ['concur, no lanes', { CONCUR_PROXY_LANES: '0' }],
];
const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import multiprocessing'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasPython) console.log('python3 is not on PATH: the CPython row is left out');
// Rows alternate within each round; each cell is the median over the rounds.
const samples = new Map();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, env] of VARIANTS) {
    Object.assign(process.env, env);
    try {
      push(name, await concur());
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
    }
  }
  if (hasPython) push('CPython', cpython());
}
function push(name, r) {
  if (!samples.has(name)) samples.set(name, []);
  samples.get(name).push(r);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const f = (x) => Math.round(x).toLocaleString('en-US');
console.log(`${ROUNDS} rounds, medians; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end`);
console.log(`| manager dict | 1 client pairs/s | ${CLIENTS} clients pairs/s | get median us | get p99 us | server peak RSS MiB |`);
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, rs] of samples) {
  const m = (k) => median(rs.map((r) => r[k]));
  console.log(`| ${name} | ${f(m('onePairsPerSec'))} | ${f(m('manyPairsPerSec'))} | ${m('medianUs').toFixed(1)} | ${m('p99Us').toFixed(1)} | ${m('serverPeakRssMb').toFixed(0)} |`);
}
