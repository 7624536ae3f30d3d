#!/usr/bin/env node
// Primitives in shared memory between processes, side by side with CPython's
// multiprocessing, and with concur's own owner-served proxies (CONCUR_NO_NATIVE=1):
//   counter  locked increments of a Value by 2 child processes (the tutorials' counter)
//   pairs    uncontended Lock acquire+release in a child, on a Lock the parent made
//   queue    a child's putSync to the parent's getSync on a SharedQueue (still proxied)
//   tickets  the ticket-sale example, 10 processes, 50 tickets (wall time, ms)
// Each measurement runs in a fresh process, peers alternating, `rounds` times; prints
// every run, the medians and the ratios.
//
//   npm run bench:shm [-- rounds=3]
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const N = { counter: 1_000_000, pairs: 5_000_000, queue: 100_000 };
const PROXY_N = { counter: 5_000, pairs: 20_000, queue: 20_000 };

async function one(what, n) {
  const { Event, Lock, Process, Semaphore, SharedQueue, Value } = await import('../dist/index.js');
  const { shmBench } = await import('./workers/shm-tasks.mjs');
  const { queueBench } = await import('./workers/queue-tasks.mjs');
  if (what === 'counter') {
    const lock = new Lock();
    const v = new Value('i32', 0);
    const go = new Event();
    const done = new Semaphore(0);
    const ready = new Semaphore(0);
    const ps = [0, 1].map(() => new Process({ target: shmBench.count, args: [lock, v, ready, go, done, n] }).start());
    // The clock starts once both children are up and waiting.
    await ready.acquire();
    await ready.acquire();
    const t0 = performance.now();
    go.set();
    await done.acquire();
    await done.acquire();
    const rate = (2 * n) / ((performance.now() - t0) / 1000);
    await Promise.all(ps.map((p) => p.join()));
    if (v.value !== 2 * n) throw new Error(`counter ${v.value}, expected ${2 * n}`);
    return rate;
  }
  if (what === 'pairs') {
    const lock = new Lock();
    const out = new SharedQueue();
    const p = new Process({ target: queueBench.lockPairsReport, args: [lock, n, out] }).start();
    const rate = await out.get();
    await p.join();
    return rate;
  }
  if (what === 'queue') {
    const q = new SharedQueue({ capacityBytes: 1 << 24 }); // as bench/queue.mjs
    const ready = new Event();
    const go = new Event();
    const p = new Process({ target: queueBench.fillWhenGo, args: [q, n, ready, go] }).start();
    await ready.wait();
    const t0 = performance.now();
    go.set();
    for (let i = 0; i < n; i++) q.getSync();
    const rate = n / ((performance.now() - t0) / 1000);
    await p.join();
    return rate;
  }
  throw new Error(`unknown measurement ${what}`);
}

if (process.argv[2] === '--one') {
  console.log(JSON.stringify({ rate: await one(process.argv[3], Number(process.argv[4])) }));
  process.exit(0);
}

const rounds = Number(process.argv[2] ?? 3);
const hasPython = spawnSync('python3', ['--version']).status === 0;
const run = (peer, what) => {
  if (what === 'tickets') {
    const env = { ...process.env, CONCUR_NO_NATIVE: peer === 'proxies' ? '1' : '' };
    const t0 = performance.now();
    execFileSync(process.execPath, ['--import', 'tsx', 'examples/ticket-sale.ts', '50', '10'], { env, stdio: 'ignore' });
    return performance.now() - t0;
  }
  if (peer === 'cpython') return JSON.parse(execFileSync('python3', [new URL('./python/shm_bench.py', import.meta.url).pathname, what, String(N[what] / 2)], { encoding: 'utf8' })).rate;
  const env = { ...process.env, CONCUR_NO_NATIVE: peer === 'proxies' ? '1' : '' };
  const n = peer === 'proxies' ? PROXY_N[what] : N[what];
  return JSON.parse(execFileSync(process.execPath, [here, '--one', what, String(n)], { encoding: 'utf8', env })).rate;
};

const cases = ['counter', 'pairs', 'queue', 'tickets'];
const peersOf = (what) => (what === 'tickets' ? ['memory', 'proxies'] : ['memory', 'proxies', ...(hasPython ? ['cpython'] : [])]);
const results = {};
for (let r = 0; r < rounds; r++) {
  for (const what of cases) {
    for (const peer of r % 2 === 0 ? peersOf(what) : [...peersOf(what)].reverse()) {
      const x = run(peer, what);
      ((results[what] ??= {})[peer] ??= []).push(x);
      console.log(`round ${r + 1} ${what} ${peer}: ${Math.round(x).toLocaleString('en-US')}${what === 'tickets' ? ' ms' : '/s'}`);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log('\nmedians');
for (const what of cases) {
  const m = Object.fromEntries(Object.entries(results[what]).map(([k, v]) => [k, median(v)]));
  const unit = what === 'tickets' ? ' ms' : '/s';
  const line = Object.entries(m).map(([k, v]) => `${k} ${Math.round(v).toLocaleString('en-US')}${unit}`).join(', ');
  const ratio =
    what === 'tickets'
      ? `memory is ${(m.proxies / m.memory).toFixed(2)}x faster than proxies`
      : `memory/cpython ${m.cpython ? (m.memory / m.cpython).toFixed(2) + 'x' : 'n/a'}, memory/proxies ${(m.memory / m.proxies).toFixed(0)}x`;
  console.log(`${what}: ${line}; ${ratio}`);
}
