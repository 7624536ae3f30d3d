// The first Pool.applyAsync batch of a fresh pool in a fresh process (as papply: 40
// apply calls, then 20,000 applyAsync, every result awaited), with where its CPU went:
// the parent's main thread, its other threads (V8's optimizing compiler, the GC's
// helpers), and the worker processes, read per thread from /proc (Linux only). Then a
// second batch in the same pool, warm, for comparison. One JSON line; CPU in us per task.
//
//   node bench/first-batch.mjs [root]      root: a checkout with dist/ and bench/workers/ (default: this one)
//   node bench/first-batch-ab.mjs 9 main=/path/a this=/path/b   alternates fresh processes, medians
import { readdirSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const root = pathToFileURL(resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname)).href;
const TASKS = Number(process.env.BENCH_APPLY_TASKS ?? 20_000);

/** CPU nanoseconds of each thread of `pid`. */
function threadsNs(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}
const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
const children = () => readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
function snapshot() {
  const own = threadsNs(process.pid);
  const main = own.get(String(process.pid));
  let kids = 0;
  let kidsMain = 0;
  for (const pid of children()) {
    try {
      const t = threadsNs(pid);
      kids += sum(t);
      kidsMain += t.get(pid) ?? 0;
    } catch {
      // gone
    }
  }
  return { main, other: sum(own) - main, kids, kidsMain };
}

// BENCH_PARENT_ONLY=1: the flags this process was started with are not passed on to the workers.
if (process.env.BENCH_PARENT_ONLY === '1') process.execArgv.length = 0;
const t0 = performance.now();
const s0 = snapshot();
const { Pool } = await import(`${root}/dist/index.js`);
const { tasks } = await import(`${root}/bench/workers/concur-tasks.mjs`);
const pool = new Pool(2);
const warmups = Array.from({ length: 40 }, (_, i) => pool.apply(tasks.inc, [i]));
const first = warmups[0].then(() => performance.now() - t0);
await Promise.all(warmups);
const firstMs = await first;
const readyMs = performance.now() - t0;
const s1 = snapshot();
const b0 = performance.now();
const results = Array.from({ length: TASKS }, (_, i) => pool.applyAsync(tasks.inc, [i]));
const submitMs = performance.now() - b0;
const sub = snapshot();
let last;
for (const r of results) last = await r.get();
const batchMs = performance.now() - b0;
const s2 = snapshot();
if (last !== TASKS) throw new Error('applyAsync lost a result');
const us = (a, b, k) => (b[k] - a[k]) / 1000 / TASKS;
// A second batch in the same pool, warm: what the first could be.
const w0 = performance.now();
const again = Array.from({ length: TASKS }, (_, i) => pool.applyAsync(tasks.inc, [i]));
for (const r of again) await r.get();
const warmMs = performance.now() - w0;
const s3 = snapshot();
console.log(
  JSON.stringify({
    warmTasksPerSec: TASKS / (warmMs / 1000),
    warmMainUs: us(s2, s3, 'main'),
    warmOtherUs: us(s2, s3, 'other'),
    warmKidsUs: us(s2, s3, 'kids'),
    tasksPerSec: TASKS / (batchMs / 1000),
    submitMs,
    submitMainUs: us(s1, sub, 'main'),
    submitOtherUs: us(s1, sub, 'other'),
    mainUs: us(s1, s2, 'main'),
    otherUs: us(s1, s2, 'other'),
    kidsUs: us(s1, s2, 'kids'),
    kidsMainUs: us(s1, s2, 'kidsMain'),
    submitKidsUs: us(s1, sub, 'kids'),
    firstMs,
    readyMs,
    startKidsMs: (s1.kids - s0.kids) / 1e6,
    startParentMs: (s1.main + s1.other - s0.main - s0.other) / 1e6,
  }),
);
pool.close();
await pool.join();
process.exit(0);
