#!/usr/bin/env node
// A Manager's DictProxy from child processes, beside CPython's multiprocessing.Manager
// (bench/python/manager_bench.py, the same workload): set+get pairs/s of one child, of
// `clients` children together, and the median and p99 latency of one get. The children
// call through their lanes (FIFOs to the server); a second row has them call through
// their helper threads instead (CONCUR_PROXY_LANES=0), as they did before lanes.
//
//   node bench/manager.mjs [pairs=20000] [clients=4]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Manager, Process } from '../dist/index.js';
import { managerBench } from './workers/manager-tasks.mjs';

const [N = 20_000, CLIENTS = 4] = process.argv.slice(2).map(Number);

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
    return { onePairsPerSec: one, manyPairsPerSec: many, clients: CLIENTS, medianUs: median, p99Us: p99 };
  } finally {
    await m.shutdown();
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

const rows = [['concur', await concur()]];
// Children read the variable when they start: from here on they use their helpers.
process.env.CONCUR_PROXY_LANES = '0';
rows.push(['concur, no lanes', await concur()]);
delete process.env.CONCUR_PROXY_LANES;
const py = cpython();
if (py) rows.push(['CPython', py]);
else console.log('python3 is not on PATH: the CPython row is left out');
const f = (x) => Math.round(x).toLocaleString('en-US');
console.log(`| manager dict | 1 client pairs/s | ${CLIENTS} clients pairs/s | get median us | get p99 us |`);
console.log('|---|---:|---:|---:|---:|');
for (const [name, r] of rows) console.log(`| ${name} | ${f(r.onePairsPerSec)} | ${f(r.manyPairsPerSec)} | ${r.medianUs.toFixed(1)} | ${r.p99Us.toFixed(1)} |`);
