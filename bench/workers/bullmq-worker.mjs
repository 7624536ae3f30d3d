// BullMQ used directly, for bench/redis.mjs: a Worker whose processor is x + 1.
//   node bench/workers/bullmq-worker.mjs <redis url> <queue> <concurrency>
import { Worker } from 'bullmq';

const [url, queue, concurrency] = process.argv.slice(2);
const worker = new Worker(queue, async (job) => job.data.x + 1, { connection: { url, maxRetriesPerRequest: null }, concurrency: Number(concurrency) });
worker.on('error', () => {});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
