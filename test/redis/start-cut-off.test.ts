/**
 * The start handshake when the submitting executor is cut off from Redis, its process
 * alive, or its machine gone silent: whether a worker's question was heard tells it
 * nothing, the executor's lease does. A short lease (LEASE ms) keeps these tests short.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { socketBlocker } from '../processes/socket-blocker.js';
import { holdingProxy } from './holding-proxy.js';
import { servedQueue, KEY, marks, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, tmpFile, until } from './helpers.js';

// The executor sets its sent Futures RUNNING a third of the lease before Redis can expire
// it; its timers run in this test's own busy process, so that margin must outlast a late
// timer on a loaded machine (1 s failed 2 runs in 7 at load 11 to 15: 333 ms of margin).
const LEASE = 3000;

/** A plain proxy to Redis on `port` (where a closed holding proxy listened): the executor reconnects. */
async function forwarder(port: number): Promise<{ close(): void }> {
  const redis = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  const server: Server = createServer((c) => {
    const u = connect(Number(redis.port || 6379), redis.hostname);
    sockets.add(c).add(u);
    c.pipe(u);
    u.pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
    c.on('close', () => u.destroy());
    u.on('close', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

describe('RedisExecutor: the start handshake while the executor is cut off from Redis', { skip: skipReason }, () => {
  const { queue } = servedQueue('cutoff');

  it(
    'a task does not start while its Future is PENDING when only the connection is down (cancel() must not answer true for it)',
    async () => {
      let jobId: string | undefined;
      // Holds what Redis sends the executor about the job, then cuts all its connections
      // and refuses new ones: Redis drops its subscription, the process lives on. The
      // worker waits until the lease expires; the executor has set the Future RUNNING by then.
      const proxy = await holdingProxy(new URL(REDIS_URL), () => jobId, { direction: 'toClient', every: true });
      const ex = new RedisExecutor({ connection: `redis://127.0.0.1:${proxy.port}`, queue, key: KEY, leaseMs: LEASE });
      const b = await socketBlocker();
      let back: { close(): void } | undefined;
      try {
        const f = ex.submit(b.fn, ...b.args);
        jobId = f.jobId;
        await proxy.held; // the job is in Redis (its add's reply is held)
        proxy.close();
        await b.started;
        const state = f.state;
        const cancelled = f.cancel();
        b.release();
        back = await forwarder(proxy.port);
        assert.equal(state, 'RUNNING', 'the task started while its Future was PENDING');
        assert.equal(cancelled, false, 'cancel() answered true for a task that had started');
        await f;
      } finally {
        b.release();
        back ??= await forwarder(proxy.port).catch(() => undefined);
        await ex.shutdown({ cancelFutures: true });
        back?.close();
      }
    },
  );

  it(
    "a job whose executor's machine died, its connection still open in Redis's eyes, does not wait for it for ever",
    async () => {
      let jobId: string | undefined;
      // Everything Redis sends the executor about the job is held: a machine gone silent,
      // its connections open (PUBLISH still counts its subscriber). Its lease renewal waits
      // behind the held announcement, so the lease expires.
      const proxy = await holdingProxy(new URL(REDIS_URL), () => jobId, { direction: 'toClient', every: true });
      const b = await socketBlocker();
      try {
        await using ex = new RedisExecutor({ connection: `redis://127.0.0.1:${proxy.port}`, queue, key: KEY, leaseMs: LEASE });
        const f = ex.submit(b.fn, ...b.args);
        jobId = f.jobId;
        // The bound's timer is cleared once the task starts: left running, it held this
        // file's process open for the rest of its 20 s after the last test had ended.
        let bound: NodeJS.Timeout | undefined;
        const started = await Promise.race([b.started.then(() => true), new Promise<boolean>((r) => (bound = setTimeout(() => r(false), 20_000)))]);
        clearTimeout(bound);
        // Before Redis could expire the lease, the executor (alive here) had set the Future RUNNING.
        const state = f.state;
        proxy.release();
        b.release();
        assert.ok(started, 'the task had not started 20 s after its executor went silent');
        assert.equal(state, 'RUNNING');
        await f;
      } finally {
        b.release();
        proxy.close();
      }
    },
  );
  it('a job cancelled while its worker waits, the abort lost with the worker\'s connection, does not start once its executor has gone', async () => {
    const q = `${queue}-lost`;
    const file = tmpFile();
    // The executor never reads the job's 'active' (its stream held from there on): the Future stays PENDING.
    const exProxy = await holdingProxy(new URL(REDIS_URL), 'event\r\n$6\r\nactive\r\n', { direction: 'toClient' });
    // The abort, on its way to the worker, is held and then lost with the worker's connection.
    const wProxy = await holdingProxy(new URL(REDIS_URL), 'concur-abort\r\n$', { direction: 'toClient' });
    const w = await RedisWorker.start({ connection: `redis://127.0.0.1:${wProxy.port}`, queue: q, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 1 });
    const jobs = new Queue(q, { connection: { url: REDIS_URL } });
    try {
      const ex = new RedisExecutor({ connection: `redis://127.0.0.1:${exProxy.port}`, queue: q, key: KEY });
      const f = ex.submit(redisTasks.note, file, 'ran', 0);
      await until(async () => (await jobs.getJob(f.jobId))?.processedOn !== undefined, 'the worker to take the job', 20_000, 5);
      assert.equal(f.cancel(), true);
      await wProxy.held;
      wProxy.drop();
      await ex.shutdown(); // it no longer listens: the worker's next question goes unheard
      await until(async () => (await jobs.getJob(f.jobId))?.finishedOn !== undefined, 'the job to end');
      assert.deepEqual(marks(file), [], 'the task started after cancel() had answered true');
    } finally {
      await w.close();
      await jobs.close();
      exProxy.close();
      wProxy.close();
      await obliterate(q);
    }
  });
});
