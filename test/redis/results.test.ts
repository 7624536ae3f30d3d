import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CancelledError, TimeoutError } from '../../src/index.js';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { PaymentError, tasks } from '../fixtures/tasks.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { FIXTURE_TASKS_NAME, literally, servedQueue, KEY, marks, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, tmpFile, until } from './helpers.js';

/** An executor on `queue` whose connections are named `name`, with no events and a sweep only every minute (and after a reconnect). */
function sweepOnly(name: string, queue: string): RedisExecutor {
  const url = new URL(REDIS_URL);
  return new RedisExecutor({
    connection: { host: url.hostname, port: Number(url.port || 6379), connectionName: name },
    queue,
    key: KEY,
    pollInterval: 60_000,
    _noEvents: true,
  });
}

/** Kills the connections named `name` (at least one), as a network drop would end them. */
async function dropConnections(admin: Redis, name: string): Promise<void> {
  await until(async () => {
    const list = (await admin.client('LIST')) as string;
    const ids = list.split('\n').filter((l) => l.includes(` name=${name} `)).map((l) => /id=(\d+)/.exec(l)![1]!);
    for (const id of ids) await admin.client('KILL', 'ID', id);
    return ids.length > 0;
  }, 'the executor connections to kill');
}

describe('RedisExecutor results', { skip: skipReason }, () => {
  const { queue, worker } = servedQueue('results');

  it('with no events at all, results and errors still arrive (read from the jobs by the sweep)', async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY, pollInterval: 100, _noEvents: true });
    const ok = ex.submit(tasks.add, 20, 22);
    const bad = ex.submit(tasks.pay, 7);
    assert.equal(await ok, 42);
    const err = (await bad.exception()) as PaymentError;
    assert.equal(err.name, 'PaymentError');
    assert.equal(err.code, 'DECLINED');
    assert.equal(err.amount, 7);
    const many = await Promise.all(Array.from({ length: 30 }, (_, i) => ex.submit(tasks.inc, i)));
    assert.deepEqual(many, Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('after its connection drops, the executor reads every unfinished job at once (results missed meanwhile arrive)', async () => {
    const name = `concur-test-reconnect-${process.pid}`;
    // No events and a sweep only every minute: only the read after a reconnect can deliver the result in time.
    await using ex = sweepOnly(name, queue);
    const f = ex.submit(tasks.add, 2, 2);
    const admin = new Redis(REDIS_URL);
    const q = new Queue(queue, { connection: { url: REDIS_URL } });
    try {
      await until(async () => (await q.getJob(f.jobId))?.finishedOn !== undefined, 'the job to complete');
      await dropConnections(admin, name);
      const t0 = performance.now();
      assert.equal(await f.result(20_000), 4);
      assert.ok(performance.now() - t0 < 15_000, 'long before the next periodic read');
    } finally {
      admin.disconnect();
      await q.close();
    }
  });

  it("a done callback that the sweep runs cannot cancel another Future whose job the same read found run: both went RUNNING first", async () => {
    const name = `concur-test-sweep-cancel-${process.pid}`;
    // No events, no lease (workers go on without a word), and a sweep only after a reconnect.
    await using ex = sweepOnly(name, queue);
    const a = ex.submit(tasks.inc, 1);
    const b = ex.submit(tasks.inc, 2);
    let cancelled: boolean | undefined;
    a.addDoneCallback(() => (cancelled = b.cancel()));
    const admin = new Redis(REDIS_URL);
    const q = new Queue(queue, { connection: { url: REDIS_URL } });
    try {
      for (const f of [a, b]) await until(async () => (await q.getJob(f.jobId))?.finishedOn !== undefined, 'the jobs to complete');
      assert.equal(a.state, 'PENDING');
      await dropConnections(admin, name);
      assert.equal(await a.result(20_000), 2);
      assert.equal(cancelled, false, 'cancel() answered true for a Future whose task had run');
      assert.equal(await b.result(20_000), 3);
    } finally {
      admin.disconnect();
      await q.close();
    }
  });

  it('a job removed from Redis by someone else fails its Future, naming the job', async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue: `${queue}-idle`, key: KEY, pollInterval: 100 });
    const f = ex.submit(tasks.inc, 1); // no worker serves this queue: it waits
    const q = new Queue(`${queue}-idle`, { connection: { url: REDIS_URL } });
    try {
      await until(async () => (await q.getJob(f.jobId)) !== undefined, 'the job to reach Redis');
      await q.remove(f.jobId);
      await assert.rejects(f.result(), new RegExp(`job ${f.jobId} \\(inc .*\\) was removed|no longer in queue`));
    } finally {
      await q.close();
      await obliterate(`${queue}-idle`);
    }
  });

  it('cancel() removes the waiting job from Redis', async () => {
    const idle = `${queue}-cancel`;
    const ex = new RedisExecutor({ connection: REDIS_URL, queue: idle, key: KEY });
    const q = new Queue(idle, { connection: { url: REDIS_URL } });
    try {
      const f = ex.submit(tasks.inc, 1);
      await until(async () => (await q.getJob(f.jobId)) !== undefined, 'the job to reach Redis');
      assert.equal(f.cancel(), true);
      await assert.rejects(f.result(), CancelledError);
      await until(async () => (await q.getJob(f.jobId)) === undefined, 'the cancelled job to leave Redis');
      assert.equal(ex.stats().cancelled, 1);
    } finally {
      await ex.shutdown();
      await q.close();
      await obliterate(idle);
    }
  });

  it('a CPU-bound task in a pool keeps its lock: it runs once, though it outlasts the lock many times', async () => {
    const busy = `${queue}-busy`;
    const file = tmpFile();
    // Two workers with a 2 s lock (renewed every second; shorter ones lapse when a loaded
    // machine starves the whole test process): a lock that lapsed would let the other
    // worker run the job again.
    const opts = { connection: REDIS_URL, queue: busy, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'thread' as const, workers: 1, lockDuration: 2000, stalledInterval: 100 };
    const w1 = await RedisWorker.start(opts);
    const w2 = await RedisWorker.start(opts);
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue: busy, key: KEY });
      assert.equal(await ex.submit(redisTasks.spin, file, 5000), 5000);
      assert.equal(marks(file).length, 1, 'ran once');
    } finally {
      await Promise.all([w1.close(), w2.close()]);
      await obliterate(busy);
    }
  });

  it('close() lets a running job finish within closeTimeout; past it, the job runs again on another worker', async () => {
    const q = `${queue}-close`;
    const file = tmpFile();
    const opts = { connection: REDIS_URL, queue: q, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async' as const, workers: 1, lockDuration: 800, stalledInterval: 200 };
    const w1 = await RedisWorker.start({ ...opts, closeTimeout: 200 });
    let w2: RedisWorker | undefined;
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue: q, key: KEY });
      const quick = ex.submit(redisTasks.note, file, 'quick', 50);
      await until(() => marks(file).length === 1, 'the quick job to start');
      const slow = ex.submit(redisTasks.note, file, 'slow', 1000);
      await quick;
      await until(() => marks(file).length === 2, 'the slow job to start');
      await w1.close(); // gives up on the slow job after closeTimeout: it ran there, unfinished
      w2 = await RedisWorker.start(opts);
      await slow;
      assert.deepEqual(marks(file).map((l) => l.split(' ')[0]), ['quick', 'slow', 'slow'], 'the slow job ran again on the second worker');
    } finally {
      await w1.close();
      await w2?.close();
      await obliterate(q);
    }
  });

  it('stats() counts what it did; a timeout comes back as TimeoutError naming the task and the worker', async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
    await ex.submit(tasks.inc, 1);
    const err = await ex.submitWith({ timeout: 100 }, tasks.spin).exception();
    assert.ok(err instanceof TimeoutError, String(err));
    assert.match(err.message, new RegExp(`task spin \\(${literally(FIXTURE_TASKS_NAME)}\\) on worker ${worker().name.replace(/[.:]/g, '\\$&')} timed out after 100 ms`));
    const s = ex.stats();
    assert.equal(s.completed, 1);
    assert.equal(s.failed, 1);
    assert.equal(s.waiting + s.running + s.local, 0);
    assert.ok(s.latency.max > 0);
    await assert.rejects(async () => ex.submitWith({ priority: 0 }, tasks.inc, 1), /options.priority must be an integer >= 1/);
    assert.equal(await ex.submitWith({ priority: 5 }, tasks.inc, 1), 2);
  });
});
