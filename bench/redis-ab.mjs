#!/usr/bin/env node
// Two or more builds of concur's Redis level side by side, interleaved finely: every
// build has its RedisExecutor and its `concur worker` process (and BullMQ directly its
// Worker) up at once, and blocks of work alternate between them, their order rotating,
// so that a shared machine's load, which drifts by the second, weighs on all alike.
// (bench/redis.mjs runs one build, with a fresh queue and processes per trial.)
//
//   node bench/redis-ab.mjs builds=/path/to/checkout-a,/path/to/checkout-b [bullmq=1]
//        mode=roundtrip cycles=30 block=50      sequential round trips, BLOCK a turn
//        mode=throughput cycles=20 block=2000   BLOCK jobs submitted at once, a turn
//        unpacked=1                             concur's jobs with a per-task option (a
//                                               timeout), which keeps them out of packs
//
// A build is a checkout with dist/ built (`npm run build`); all must share one format
// version. The worker runs --pool async --workers 16, as in bench/redis.mjs.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { startWorker } from './start-worker.mjs';

const arg = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const MODE = arg.mode ?? 'roundtrip';
const CYCLES = Number(arg.cycles ?? (MODE === 'roundtrip' ? 30 : 20));
const BLOCK = Number(arg.block ?? (MODE === 'roundtrip' ? 50 : 2000));
const BUILDS = (arg.builds ?? resolve(fileURLToPath(new URL('..', import.meta.url)))).split(',').map((b) => resolve(b));
const URL_ = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const KEY = randomBytes(24).toString('hex');
const startWorkerWith = (args, ready) => startWorker(args, ready, KEY);
const BULL_WORKER = fileURLToPath(new URL('./workers/bullmq-worker.mjs', import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const mine = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** CPU ms of a process (user + system), from /proc. */
const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};

/** A variant: `trip()` is one round trip, `block(n)` submits n jobs at once and waits for them. */
async function bullmqVariant(queue) {
  const worker = await startWorkerWith([BULL_WORKER, URL_, queue, '16'], /ready/);
  const q = new Queue(queue, { connection: { url: URL_ } });
  const events = new QueueEvents(queue, { connection: { url: URL_ } });
  await events.waitUntilReady();
  let x = 0;
  let seen = 0;
  let want = Infinity;
  let done = () => {};
  events.on('completed', () => ++seen >= want && done());
  return {
    worker,
    close: () => Promise.all([q.close(), events.close()]),
    trip: async () => {
      const job = await q.add('inc', { x: ++x });
      if ((await job.waitUntilFinished(events, 30_000)) !== x + 1) throw new Error('bullmq: wrong result');
    },
    block: async (n) => {
      const all = new Promise((r) => (done = r));
      want = seen + n;
      for (let i = 0; i < n; i += 500) await q.addBulk(Array.from({ length: Math.min(500, n - i) }, () => ({ name: 'inc', data: { x: ++x } })));
      await all;
    },
  };
}

async function concurVariant(dir, queue) {
  const worker = await startWorkerWith(
    [`${dir}/bin/concur.js`, 'worker', '--redis', URL_, '--queue', queue, '--tasks', `${dir}/bench/workers/redis-tasks.mjs`, '--pool', 'async', '--workers', '16'],
    /serving queue/,
  );
  const { RedisExecutor } = await import(`${dir}/dist/redis/index.js`);
  const { redisBench } = await import(`${dir}/bench/workers/redis-tasks.mjs`);
  const ex = new RedisExecutor({ connection: URL_, queue, key: KEY });
  let x = 0;
  return {
    worker,
    close: () => ex.shutdown(),
    trip: async () => {
      if ((await ex.submit(redisBench.inc, ++x)) !== x + 1) throw new Error('concur: wrong result');
    },
    block: async (n) => {
      const submit = arg.unpacked === '1' ? (i) => ex.submitWith({ timeout: 600_000 }, redisBench.inc, i) : (i) => ex.submit(redisBench.inc, i);
      await Promise.all(Array.from({ length: n }, (_, i) => submit(i)));
    },
  };
}

const names = [...(arg.bullmq === '1' ? ['bullmq'] : []), ...BUILDS.map((b, i) => `${basename(b)}#${i}`)];
const variants = {};
for (const name of names) {
  const queue = `concur-ab-${process.pid}-${randomBytes(3).toString('hex')}`;
  variants[name] = { queue, ...(name === 'bullmq' ? await bullmqVariant(queue) : await concurVariant(BUILDS[Number(name.split('#')[1])], queue)) };
}
const results = Object.fromEntries(names.map((n) => [n, { trips: [], ms: [], submitter: [], worker: [] }]));
for (const name of names) for (let i = 0; i < (MODE === 'roundtrip' ? 100 : 1); i++) await (MODE === 'roundtrip' ? variants[name].trip() : variants[name].block(500)); // warm-up
for (let c = 0; c < CYCLES; c++) {
  const order = [...names];
  for (let i = 0; i < c % order.length; i++) order.push(order.shift());
  for (const name of order) {
    const v = variants[name];
    const r = results[name];
    if (MODE === 'roundtrip') {
      for (let i = 0; i < BLOCK; i++) {
        const t0 = performance.now();
        await v.trip();
        r.trips.push(performance.now() - t0);
      }
    } else {
      const t0 = performance.now();
      const c0 = mine();
      const w0 = cpuOf(v.worker.pid);
      await v.block(BLOCK);
      r.ms.push(performance.now() - t0);
      r.submitter.push(mine() - c0);
      r.worker.push(cpuOf(v.worker.pid) - w0);
    }
  }
}
console.log(`${MODE}, ${CYCLES} cycles of ${BLOCK}, Redis at ${URL_}`);
for (const name of names) {
  const r = results[name];
  if (MODE === 'roundtrip') {
    console.log(`${name}: median ${median(r.trips).toFixed(2)} ms, p90 ${pct(r.trips, 90).toFixed(2)} ms, p99 ${pct(r.trips, 99).toFixed(2)} ms (${r.trips.length} trips)`);
  } else {
    const perJob = (xs) => ((median(xs) * 1000) / BLOCK).toFixed(0);
    console.log(`${name}: ${Math.round(BLOCK / (median(r.ms) / 1000))} jobs/s (median block ${median(r.ms).toFixed(0)} ms); CPU us/job: submitter ${perJob(r.submitter)}, worker ${perJob(r.worker)}`);
  }
}
for (const name of names) {
  const v = variants[name];
  await v.close();
  const gone = new Promise((r) => v.worker.once('exit', r));
  v.worker.kill('SIGTERM');
  await gone;
  const q = new Queue(v.queue, { connection: { url: URL_ } });
  await q.obliterate({ force: true });
  await q.close();
}
process.exit(0);
