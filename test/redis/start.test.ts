/**
 * A job's task starts only once its executor has the Future RUNNING: the worker asks
 * the executor and waits for its answer, so the order holds however late the executor
 * hears of the start, and a job whose Future is done by then never starts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { executorOf, goChannel, startedChannel } from '../../src/redis/events.js';
import { tasks } from '../fixtures/tasks.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { socketBlocker } from '../processes/socket-blocker.js';
import { holdingProxy } from './holding-proxy.js';
import { failedReason, servedQueue, KEY, marks, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, tmpFile, until } from './helpers.js';

describe('RedisExecutor: a task starts after its Future is RUNNING', { skip: skipReason }, () => {
  const { queue } = servedQueue('start');

  it("a job's Future is RUNNING by the time its task has started, so cancel() refuses it (40 tries)", async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
    for (let i = 0; i < 40; i++) {
      const b = await socketBlocker();
      const f = ex.submit(b.fn, ...b.args);
      await b.started;
      const state = f.state;
      const cancelled = f.cancel();
      b.release();
      assert.equal(state, 'RUNNING', `try ${i}`);
      assert.equal(cancelled, false);
      await f;
    }
  });

  it("a job's Future is RUNNING before its task starts, however late the executor hears of the start (the announcement held up on its way to it)", async () => {
    // The executor's connections go through the proxy, which holds whatever Redis sends
    // on to it about the job (the queue's events, the announcement): whatever the worker
    // saw of Redis meanwhile, the task must not start before the executor has the Future RUNNING.
    let jobId: string | undefined;
    const proxy = await holdingProxy(new URL(REDIS_URL), () => jobId, { direction: 'toClient', every: true });
    try {
      await using ex = new RedisExecutor({ connection: `redis://127.0.0.1:${proxy.port}`, queue, key: KEY });
      const b = await socketBlocker();
      const f = ex.submit(b.fn, ...b.args);
      jobId = f.jobId;
      await proxy.held;
      // Held until the task starts (which fails the test), or long enough that a task
      // that would start without the executor would have (then the test checks the order).
      void Promise.race([b.started, new Promise((r) => setTimeout(r, 500))]).then(() => proxy.release());
      await b.started;
      const state = f.state;
      const cancelled = f.cancel();
      b.release();
      assert.equal(state, 'RUNNING');
      assert.equal(cancelled, false);
      await f;
    } finally {
      proxy.close();
    }
  });

  it('a job aborted while its worker waits to hear from the executor does not start (its question held up on its way)', async () => {
    const q = `${queue}-held`;
    const file = tmpFile();
    const proxy = await holdingProxy(new URL(REDIS_URL), 'concur-lease');
    const w = await RedisWorker.start({ connection: `redis://127.0.0.1:${proxy.port}`, queue: q, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 1 });
    const jobs = new Queue(q, { connection: { url: REDIS_URL } });
    try {
      // No events, no sweep, no answers: the executor never hears of the start, so cancel()
      // is true however far the worker got; the worker, unanswered, asks whether the
      // executor's lease lives (that question is held), and would go on since none does.
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue: q, key: KEY, pollInterval: 60_000, _noEvents: true });
      const f = ex.submit(redisTasks.note, file, 'ran', 0);
      await proxy.held; // the worker has the job and waits for Redis to take its question
      assert.equal(f.cancel(), true);
      // The abort message itself (not the channel's name in the subscription's reply) is in
      // the worker's socket before the announcement goes on to Redis.
      await proxy.passed(`concur-abort\r\n$${f.jobId.length}\r\n${f.jobId}\r\n`);
      proxy.release();
      await until(async () => (await failedReason(jobs, f.jobId)) !== undefined, 'the aborted job to fail');
      assert.deepEqual(marks(file), [], 'the task never started');
      assert.match((await failedReason(jobs, f.jobId))!, /CancelledError: job .* was aborted by its executor/);
    } finally {
      await w.close();
      await jobs.close();
      proxy.close();
      await obliterate(q);
    }
  });

  it('asked again, the executor answers go for a job it waits for (RUNNING first), no for one whose Future is done', async () => {
    const idle = `${queue}-answers`;
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue: idle, key: KEY });
    const jobs = new Queue(idle, { connection: { url: REDIS_URL } });
    const sub = new Redis(REDIS_URL);
    const pub = new Redis(REDIS_URL);
    try {
      const waiting = ex.submit(tasks.inc, 1); // no worker serves this queue
      const cancelled = ex.submit(tasks.inc, 2);
      await until(async () => (await jobs.getJob(cancelled.jobId)) !== undefined, 'the jobs to reach Redis');
      assert.equal(cancelled.cancel(), true);
      const answers: string[] = [];
      sub.on('message', (_c: string, m: string) => answers.push(...m.split(' ')));
      await sub.subscribe(goChannel('bull', idle));
      const channel = startedChannel('bull', idle, executorOf(waiting.jobId));
      // A first announcement only tells a worker whether the executor listens (the stream's 'active' gets the answer).
      assert.equal(await pub.publish(channel, waiting.jobId), 1, 'the executor listens');
      await pub.publish(channel, `${waiting.jobId} again`);
      await pub.publish(channel, `${cancelled.jobId} again`);
      await until(() => answers.length === 2, 'both answers');
      assert.deepEqual(answers, [waiting.jobId, `!${cancelled.jobId}`]);
      assert.equal(waiting.state, 'RUNNING');
      assert.equal(waiting.cancel(), false);
      await jobs.remove(waiting.jobId);
      await assert.rejects(waiting.result(), /was removed|no longer in queue/);
    } finally {
      sub.disconnect();
      pub.disconnect();
      await jobs.close();
      await obliterate(idle);
    }
  });

  it("an announcement lost with the executor's connection is made again: the job runs once the executor is back", async () => {
    let jobId: string | undefined;
    // Holds what Redis sends the executor about the job (the announcement among it), then
    // drops its connections: the announcement is lost, and the executor reconnects.
    const proxy = await holdingProxy(new URL(REDIS_URL), () => jobId, { direction: 'toClient', every: true });
    const jobs = new Queue(queue, { connection: { url: REDIS_URL } });
    const file = tmpFile();
    try {
      await using ex = new RedisExecutor({ connection: `redis://127.0.0.1:${proxy.port}`, queue, key: KEY });
      const f = ex.submit(redisTasks.note, file, 'ran', 0);
      jobId = f.jobId;
      await proxy.held;
      await until(async () => (await jobs.getJob(f.jobId))?.processedOn !== undefined, 'a worker to take the job');
      proxy.drop();
      assert.equal(typeof (await f.result(20_000)), 'number');
      assert.equal(marks(file).length, 1, 'the task ran once');
    } finally {
      proxy.close();
      await jobs.close();
    }
  });

  it("when the executor misses the queue's 'active' event, the worker asks again a second later: the task starts after RUNNING", async () => {
    // Holds the executor's event stream from its first 'active' on: only the worker's
    // second announcement ("again") can get its answer; the result comes by the sweep.
    // Armed once the executor is up: the stream's last entry, which its command connection
    // reads as it starts, may be an 'active' too, and that connection must go on.
    let armed = false;
    const proxy = await holdingProxy(new URL(REDIS_URL), () => (armed ? 'event\r\n$6\r\nactive\r\n' : undefined), { direction: 'toClient' });
    try {
      await using ex = new RedisExecutor({ connection: `redis://127.0.0.1:${proxy.port}`, queue, key: KEY, pollInterval: 100 });
      assert.equal(await ex.submit(tasks.inc, 1), 2);
      armed = true;
      const b = await socketBlocker();
      const f = ex.submit(b.fn, ...b.args);
      await b.started;
      const state = f.state;
      b.release();
      assert.equal(state, 'RUNNING');
      await f.result(20_000);
    } finally {
      proxy.close();
    }
  });
});
