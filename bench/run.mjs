#!/usr/bin/env node
// Runs every workload on concur and its peers, side by side in one process tree:
// each trial is a child process, the peers alternate within a round and their order
// rotates between rounds, so machine noise falls on all of them alike. Prints medians
// and ratios, and writes the raw trials to bench/results/.
//
//   npm run bench                        5 rounds (BENCH_ROUNDS), every workload
//   node bench/run.mjs tiny ptiny pmap   only these workloads
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { PEERS } from './peers.mjs';
import { PROCESS_PEERS } from './process-peers.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const THREAD_WORKLOADS = ['tiny', 'roundtrip', 'fib1', 'fib2', 'echoCopy', 'echoMove', 'startup'];
const PROCESS_WORKLOADS = ['ptiny', 'proundtrip', 'pfib2', 'pstartup', 'pmap', 'ppipe', 'pfacemap', 'papply'];
const CPYTHON_WORKLOADS = new Set(['ptiny', 'proundtrip', 'pmap', 'ppipe', 'pstartup', 'papply']);
const CONCUR_ONLY = new Set(['pmap', 'ppipe', 'pfacemap', 'papply']);
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : [...THREAD_WORKLOADS, ...PROCESS_WORKLOADS];
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const hasPython = python.status === 0;

function runTrial(script, args) {
  const [cmd, file] = script === 'python' ? ['python3', here('./python/process_bench.py')] : [process.execPath, here(script)];
  const out = execFileSync(cmd, [file, ...args], { encoding: 'utf8', timeout: 600_000 });
  return JSON.parse(out.trim().split('\n').pop());
}

function peersFor(workload) {
  if (THREAD_WORKLOADS.includes(workload)) return PEERS.map((p) => ['./trial.mjs', p]);
  const node = CONCUR_ONLY.has(workload) ? [['./process-trial.mjs', 'concur']] : PROCESS_PEERS.map((p) => ['./process-trial.mjs', p]);
  return hasPython && CPYTHON_WORKLOADS.has(workload) ? [...node, ['python', 'cpython']] : node;
}

const trials = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const workload of chosen) {
    if (workload === 'fib1' || workload === 'fib2' || workload === 'pfib2') trials.push({ ...runTrial('./trial.mjs', ['main-thread', 'serial']), round, for: workload });
    const peers = peersFor(workload);
    const order = peers.map((_, i) => peers[(i + round) % peers.length]);
    for (const [script, peer] of order) trials.push({ ...runTrial(script, script === 'python' ? [workload] : [peer, workload]), round });
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const median = (xs) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const med = (peer, workload, key) => median(trials.filter((t) => t.peer === peer && t.workload === workload).map((t) => t[key]));
const inRound = (peer, workload, key, round) => trials.find((t) => t.peer === peer && t.workload === workload && t.round === round)?.[key];
/**
 * concur / peer, paired: the median over rounds of the ratio within each round. This
 * machine flips between a fast and a slow state for seconds at a time, which moves every
 * peer alike; the two medians taken apart can mix a fast round of one with a slow
 * round of the other.
 */
function pairedRatio(peer, workload, key, speedup) {
  const ratios = [];
  for (let round = 0; round < ROUNDS; round++) {
    const c = inRound('concur', workload, key, round);
    const p = inRound(peer, workload, key, round);
    if (c === undefined || p === undefined) continue;
    ratios.push(speedup ? p / c : c / p); // a speedup is serial / ms, and the round's serial cancels out
  }
  return median(ratios);
}
const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-');
const serialMs = med('main-thread', 'serial', 'ms');

// id: [label, workload, key, digits, speedup?]
const THREAD_METRICS = [
  ['(a) 200k tiny tasks, tasks/s', 'tiny', 'tasksPerSec', 0],
  ['(b) round trip median, us', 'roundtrip', 'medianUs', 1],
  ['(b) round trip p99, us', 'roundtrip', 'p99Us', 1],
  ['(c) 48 x fib(30) speedup, 1 worker', 'fib1', 'ms', 2, true],
  ['(c) 48 x fib(30) speedup, 2 workers', 'fib2', 'ms', 2, true],
  ['(d) 1 MiB echo copied, us', 'echoCopy', 'usPerEcho', 0],
  ['(d) 1 MiB echo transferred, us', 'echoMove', 'usPerEcho', 0],
  ['(e) new pool to first result, ms', 'startup', 'ms', 1],
];
const PROCESS_METRICS = [
  ['20k tiny tasks on 2 processes, tasks/s', 'ptiny', 'tasksPerSec', 0],
  ['round trip median, us', 'proundtrip', 'medianUs', 1],
  ['round trip p99, us', 'proundtrip', 'p99Us', 1],
  ['48 x fib(30) speedup, 2 processes', 'pfib2', 'ms', 2, true],
  ['new pool to first result, ms', 'pstartup', 'ms', 1],
  ['map 1M trivial items (auto chunks), items/s', 'pmap', 'itemsPerSec', 0],
  ['Pipe round trips/s, parent and child', 'ppipe', 'roundTripsPerSec', 0],
  ['Pool.map 1M items (chunks of 5,000), items/s', 'pfacemap', 'poolItemsPerSec', 0],
  ['ProcessPoolExecutor.map, the same, items/s', 'pfacemap', 'executorItemsPerSec', 0],
  ['Pool.map / ProcessPoolExecutor.map speed', 'pfacemap', 'poolOverExecutor', 3],
  ['Pool.applyAsync of 20k tiny tasks, tasks/s', 'papply', 'tasksPerSec', 0],
  ['Pool.applyAsync, best of 3 batches of 20k, tasks/s', 'papply', 'bestTasksPerSec', 0],
];

function table(title, peers, metrics, ratioTo) {
  const rows = [];
  const summary = {};
  for (const [label, workload, key, digits, speedup] of metrics) {
    if (!chosen.includes(workload)) continue;
    const values = Object.fromEntries(peers.map((p) => [p, speedup ? serialMs / med(p, workload, key) : med(p, workload, key)]));
    const ratios = Object.fromEntries(ratioTo.map((r) => [r, pairedRatio(r, workload, key, speedup)]));
    summary[`${workload}.${key}`] = { label, values, ratios };
    rows.push([label, ...peers.map((p) => fmt(values[p], digits)), ...ratioTo.map((r) => (Number.isFinite(ratios[r]) ? `${fmt(ratios[r], 2)}x` : '-'))]);
  }
  if (rows.length === 0) return summary;
  const rss = Object.fromEntries(peers.map((p) => [p, Math.max(...trials.filter((t) => t.peer === p && metrics.some((m) => m[1] === t.workload)).map((t) => t.maxRssMb))]));
  summary.peakRssMb = rss;
  const rssRatio = (r) => rss.concur / rss[r];
  rows.push(['peak RSS of any trial, MiB', ...peers.map((p) => fmt(rss[p], 0)), ...ratioTo.map((r) => (rssRatio(r) > 0 ? `${fmt(rssRatio(r), 2)}x` : '-'))]);
  const header = ['workload', ...peers, ...ratioTo.map((r) => `concur / ${r}`)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  return summary;
}

const machine = `${cpus().length} x ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}${hasPython ? `, ${python.stdout.trim()}` : ''}`;
const date = new Date().toISOString().slice(0, 10);
console.log(`${date}, ${machine}, median of ${ROUNDS} rounds (serial fib in the main thread: ${fmt(serialMs, 0)} ms); ratios are medians of the ratio within each round`);
if (!hasPython) console.log('python3 is not on PATH: the CPython columns are left out.');
const summary = {
  threads: table('Worker threads', PEERS, THREAD_METRICS, ['piscina']),
  processes: table('Processes', [...PROCESS_PEERS, ...(hasPython ? ['cpython'] : [])], PROCESS_METRICS, ['poolifier', ...(hasPython ? ['cpython'] : [])]),
};

const dir = here('./results/');
mkdirSync(dir, { recursive: true });
const record = { date, machine, rounds: ROUNDS, serialMs, summary, trials };
// Only a full run stands for the date; a run of some workloads is kept beside it.
const full = [...THREAD_WORKLOADS, ...PROCESS_WORKLOADS].every((w) => chosen.includes(w)) && ROUNDS >= 5;
if (full) {
  writeFileSync(`${dir}/latest.json`, JSON.stringify(record, null, 2));
  writeFileSync(`${dir}/${date}.json`, JSON.stringify(record, null, 2));
} else {
  writeFileSync(`${dir}/${date}-partial.json`, JSON.stringify(record, null, 2));
}
