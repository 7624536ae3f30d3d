#!/usr/bin/env node
// Shared-memory primitives between threads: SharedQueue items/s against a raw one-way
// worker postMessage of the same items (each timed from when its threads are running),
// and Lock acquire/release pairs/s, uncontended and contended by two threads; across
// processes, SharedQueue and Lock beside CPython's multiprocessing. Alternating,
// repeated, medians.
//
//   node bench/queue.mjs [items=1000000] [rounds=5]
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Event, Lock, Process, SharedQueue, Thread } from '../dist/index.js';
import { queueBench } from './workers/queue-tasks.mjs';

const [N = 1_000_000, ROUNDS = 5] = process.argv.slice(2).map(Number);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// Threads start before the clock does (as the raw postMessage worker is online first):
// each worker sets `ready` on arrival and waits for `go`.
async function started(targets) {
  const go = new Event();
  const ready = targets.map(() => new Event());
  const threads = targets.map(([target, args], i) => new Thread({ target, args: [...args, ready[i], go] }).start());
  for (const r of ready) await r.wait();
  return { threads, go };
}

async function sharedQueue() {
  const q = new SharedQueue({ maxsize: 10_000 });
  const { threads, go } = await started([[queueBench.drainWhenGo, [q, N]]]);
  const t0 = performance.now();
  go.set();
  for (let i = 0; i < N; i++) await q.put(i).catch(() => {});
  await Promise.all(threads.map((t) => t.join()));
  return N / ((performance.now() - t0) / 1000);
}

async function sharedQueueSync() {
  // The producer in a thread too, both sides blocking: the CPU-bound worker use.
  const q = new SharedQueue({ maxsize: 10_000 });
  const { threads, go } = await started([[queueBench.drainWhenGo, [q, N]], [queueBench.fillWhenGo, [q, N]]]);
  const t0 = performance.now();
  go.set();
  await Promise.all(threads.map((t) => t.join()));
  return N / ((performance.now() - t0) / 1000);
}

async function rawPostMessage() {
  const w = new Worker(`const { parentPort } = require('node:worker_threads'); let n = 0; parentPort.on('message', () => { if (++n === ${N}) parentPort.postMessage('done'); });`, { eval: true });
  await new Promise((r) => w.once('online', r));
  const t0 = performance.now();
  const done = new Promise((r) => w.once('message', r));
  for (let i = 0; i < N; i++) w.postMessage(i);
  await done;
  const rate = N / ((performance.now() - t0) / 1000);
  await w.terminate();
  return rate;
}

async function lockUncontended() {
  const lock = new Lock();
  const t0 = performance.now();
  for (let i = 0; i < N * 4; i++) {
    lock.acquireSync();
    lock.release();
  }
  return (N * 4) / ((performance.now() - t0) / 1000);
}

async function lockContended() {
  const lock = new Lock();
  const t0 = performance.now();
  const ts = [0, 1].map(() => new Thread({ target: queueBench.lockPairs, args: [lock, N] }).start());
  await Promise.all(ts.map((t) => t.join()));
  return (2 * N) / ((performance.now() - t0) / 1000);
}

async function processQueue() {
  // As CPython's: a child process puts, this process (the queue's owner) gets; the clock
  // starts once the child runs (as for the threads above, and CPython's child).
  const q = new SharedQueue({ capacityBytes: 1 << 24 });
  const ready = new Event();
  const go = new Event();
  const p = new Process({ target: queueBench.fillWhenGo, args: [q, PROCESS_N, ready, go] }).start();
  await ready.wait();
  const t0 = performance.now();
  go.set();
  for (let i = 0; i < PROCESS_N; i++) q.getSync();
  const rate = PROCESS_N / ((performance.now() - t0) / 1000);
  await p.join();
  return rate;
}

async function processLockRoundTrips() {
  const lock = new Lock();
  const p = new Process({ target: queueBench.lockPairsReport, args: [lock, PROCESS_N / 10, q2()] }).start();
  return pairsFrom(p);
}

// A child reports its figure through a one-slot queue it puts into.
let reportQueue;
const q2 = () => (reportQueue = new SharedQueue());
async function pairsFrom(p) {
  const rate = await reportQueue.get();
  await p.join();
  return rate;
}

const python = (() => {
  try {
    execFileSync('python3', ['-c', 'import multiprocessing'], { stdio: 'ignore' });
    return 'python3';
  } catch {
    return undefined;
  }
})();
const pyScript = fileURLToPath(new URL('./python/queue_bench.py', import.meta.url));
let pyLast;
async function cpythonQueue() {
  pyLast = JSON.parse(execFileSync(python, [pyScript, String(PROCESS_N)], { encoding: 'utf8' }));
  return pyLast.queue;
}
async function cpythonLock() {
  return pyLast.lock;
}

const PROCESS_N = Math.min(N, 200_000);
const runs = { sharedQueue: [], sharedQueueSync: [], rawPostMessage: [], lockUncontended: [], lockContended: [], processQueue: [], processLockRoundTrips: [] };
const fns = { sharedQueue, sharedQueueSync, rawPostMessage, lockUncontended, lockContended, processQueue, processLockRoundTrips };
if (python) Object.assign(fns, { cpythonQueue, cpythonLock }), Object.assign(runs, { cpythonQueue: [], cpythonLock: [] });
else console.log('python3 is not on PATH: the CPython columns are left out');
for (let r = 0; r < ROUNDS; r++) for (const name of Object.keys(fns)) runs[name].push(await fns[name]());
if (process.env.BENCH_VERBOSE) console.log(runs);
const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
const f = (x) => Math.round(x).toLocaleString('en-US');
console.log(`${N} small ints, median of ${ROUNDS}\n`);
console.log('| measure | per second |');
console.log('|---|---:|');
console.log(`| SharedQueue, main thread put (async) -> worker getSync | ${f(m.sharedQueue)} |`);
console.log(`| SharedQueue, worker putSync -> worker getSync | ${f(m.sharedQueueSync)} |`);
console.log(`| raw one-way worker postMessage | ${f(m.rawPostMessage)} |`);
console.log(`| Lock acquireSync/release pairs, uncontended | ${f(m.lockUncontended)} |`);
console.log(`| Lock pairs, contended by 2 threads | ${f(m.lockContended)} |`);
console.log(`| SharedQueue across processes, child putSync -> owner getSync (${PROCESS_N} items) | ${f(m.processQueue)} |`);
console.log(`| Lock acquireSync/release pairs from a child process (each a round trip to the owner) | ${f(m.processLockRoundTrips)} |`);
if (python) {
  console.log(`| CPython multiprocessing.Queue, child put -> parent get | ${f(m.cpythonQueue)} |`);
  console.log(`| CPython multiprocessing.Lock pairs, uncontended | ${f(m.cpythonLock)} |`);
}
console.log(`\nSharedQueue (sync) / raw postMessage: ${(m.sharedQueueSync / m.rawPostMessage).toFixed(2)}x`);
if (python) {
  console.log(`SharedQueue across processes / CPython multiprocessing.Queue: ${(m.processQueue / m.cpythonQueue).toFixed(2)}x`);
  console.log(`Lock uncontended / CPython multiprocessing.Lock: ${(m.lockUncontended / m.cpythonLock).toFixed(2)}x`);
}
