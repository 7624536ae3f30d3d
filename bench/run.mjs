#!/usr/bin/env node
// Runs every workload on concur and its peers, side by side in one process tree:
// each trial is a child process, the peers alternate within a round and their order
// rotates between rounds, so machine noise falls on all of them alike. Prints medians
// and ratios to piscina, and writes the raw trials to bench/results/.
//
//   npm run bench                 5 rounds (BENCH_ROUNDS), all workloads
//   node bench/run.mjs tiny fib2  only these workloads
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { PEERS } from './peers.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ALL = ['tiny', 'roundtrip', 'fib1', 'fib2', 'echoCopy', 'echoMove', 'startup'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
const trial = fileURLToPath(new URL('./trial.mjs', import.meta.url));

function runTrial(peer, workload) {
  const out = execFileSync(process.execPath, [trial, peer, workload], { encoding: 'utf8', timeout: 300_000 });
  return JSON.parse(out.trim().split('\n').pop());
}

const trials = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = PEERS.map((_, i) => PEERS[(i + round) % PEERS.length]);
  for (const workload of chosen) {
    if (workload === 'fib1' || workload === 'fib2') trials.push(runTrial('main-thread', 'serial'));
    for (const peer of order) trials.push(runTrial(peer, workload));
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pick = (peer, workload, key) => trials.filter((t) => t.peer === peer && t.workload === workload).map((t) => t[key]);
const med = (peer, workload, key) => median(pick(peer, workload, key));

const rows = [];
const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-');
const serialMs = chosen.some((w) => w.startsWith('fib')) ? med('main-thread', 'serial', 'ms') : NaN;
const metrics = {
  tiny: ['(a) 200k tiny tasks, tasks/s', 'tasksPerSec', true, 0],
  roundtrip: ['(b) round trip median, us', 'medianUs', false, 1],
  roundtripP99: ['(b) round trip p99, us', 'p99Us', false, 1],
  fib1: ['(c) 48 x fib(30) speedup, 1 worker', 'ms', true, 2],
  fib2: ['(c) 48 x fib(30) speedup, 2 workers', 'ms', true, 2],
  echoCopy: ['(d) 1 MiB echo copied, us', 'usPerEcho', false, 0],
  echoMove: ['(d) 1 MiB echo transferred, us', 'usPerEcho', false, 0],
  startup: ['(e) new pool to first result, ms', 'ms', false, 1],
};
const summary = {};
for (const [id, [label, key, higherBetter, digits]] of Object.entries(metrics)) {
  const workload = id === 'roundtripP99' ? 'roundtrip' : id;
  if (!chosen.includes(workload)) continue;
  const isSpeedup = id.startsWith('fib');
  const values = Object.fromEntries(PEERS.map((p) => [p, isSpeedup ? serialMs / med(p, workload, key) : med(p, workload, key)]));
  const ratio = values.concur / values.piscina;
  summary[id] = { label, values, concurOverPiscina: ratio, higherIsBetter: higherBetter || isSpeedup };
  rows.push([label, ...PEERS.map((p) => fmt(values[p], digits)), `${fmt(ratio, 2)}x`]);
}
const rss = Object.fromEntries(PEERS.map((p) => [p, Math.max(...trials.filter((t) => t.peer === p).map((t) => t.maxRssMb))]));
rows.push(['(f) peak RSS of any trial, MiB', ...PEERS.map((p) => fmt(rss[p], 0)), `${fmt(rss.concur / rss.piscina, 2)}x`]);
const rssTiny = Object.fromEntries(PEERS.map((p) => [p, med(p, 'tiny', 'maxRssMb')]));
if (chosen.includes('tiny')) rows.push(['(f) peak RSS in (a), median, MiB', ...PEERS.map((p) => fmt(rssTiny[p], 0)), `${fmt(rssTiny.concur / rssTiny.piscina, 2)}x`]);

const header = ['workload', ...PEERS, 'concur / piscina'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
const machine = `${cpus().length} x ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
console.log(`\n${date}, ${machine}, median of ${ROUNDS} rounds (serial fib: ${fmt(serialMs, 0)} ms)\n`);
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const r of rows) console.log(line(r));

const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const record = { date, machine, rounds: ROUNDS, serialMs, summary, peakRssMb: rss, trials };
writeFileSync(`${dir}/latest.json`, JSON.stringify(record, null, 2));
writeFileSync(`${dir}/${date}.json`, JSON.stringify(record, null, 2));
