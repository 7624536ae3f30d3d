// Scenario 2, the crawler, one level up: the same submit/done-callback code as
// crawler.ts, on a RedisExecutor. Two RedisWorkers (as two `concur worker` machines would)
// take the pages from a Redis queue; here they run in this program, each running up to 5
// fetches at once as coroutines (pool 'async': the work is waiting on the network), so
// one command shows the whole path: executor ─▶ Redis ─▶ workers ─▶ back.
//   node --import tsx examples/redis-crawler.ts      (Redis at $REDIS_URL, else 127.0.0.1:6379)
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { Future } from 'concur';
import { RedisExecutor, RedisWorker } from 'concur/redis';
import { tasks } from './tasks.js';

const PAGES = 40;
const pageSize = (n: number): number => 1000 * (n + 1);

const redis = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
// Executor and workers share a signing key (in production: --key-file or $CONCUR_KEY on every machine).
const key = randomBytes(24).toString('hex');
const queue = `concur-example-crawler-${randomBytes(4).toString('hex')}`;
// A worker runs only the tasks of the modules it is given (a worker imports them: keep them free of main code).
const modules = [fileURLToPath(new URL('./tasks.ts', import.meta.url))];

let workers: RedisWorker[];
try {
  workers = await Promise.all(
    ['worker-a', 'worker-b'].map((name) => RedisWorker.start({ connection: redis, queue, key, tasks: modules, pool: 'async', workers: 5, name, startTimeout: 3000 })),
  );
} catch (err) {
  console.error(`${(err as Error).message}\nstart a Redis (redis-server, or: docker run -p 6379:6379 redis) or set REDIS_URL`);
  process.exit(1);
}

// Each page is n+1 KB and takes 20 ms to answer, as a slow remote server would.
const server = createServer((req, res) => {
  const n = Number(req.url?.split('/').pop());
  setTimeout(() => res.end('x'.repeat(pageSize(n))), 20);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };
const urls = Array.from({ length: PAGES }, (_, n) => `http://127.0.0.1:${port}/page/${n}`);

const executor = new RedisExecutor({ connection: redis, queue, key });
try {
  const started = performance.now();
  let bytes = 0;
  let pages = 0;
  const parse = (f: Future<{ url: string; status: number; body: string }>): void => {
    const page = f.resultSync();
    if (page.status === 200) {
      bytes += page.body.length;
      pages++;
    }
  };
  // The same two lines as on a local executor: submit, and parse when done.
  for (const url of urls) executor.submit(tasks.fetchPage, url).addDoneCallback(parse);
  await executor.shutdown({ wait: true }); // every callback has run by now
  const expected = urls.reduce((sum, _, n) => sum + pageSize(n), 0);
  const ran = workers.map((w) => `${w.name} ran ${w.stats().completed}`).join(', ');
  console.log(`redis   ${pages} pages, ${bytes} bytes${bytes === expected ? ' (all)' : ` (expected ${expected})`} in ${Math.round(performance.now() - started)} ms; ${ran}`);
} finally {
  await executor.shutdown();
  await Promise.all(workers.map((w) => w.close()));
  server.close();
  // The queue was this run's alone: leave nothing of it in Redis.
  const q = new Queue(queue, { connection: { url: redis } });
  await q.obliterate({ force: true });
  await q.close();
}
