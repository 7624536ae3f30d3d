import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { WorkerCrashedError } from '../../src/index.js';
import { RedisExecutor, type RedisFuture, RedisWorker } from '../../src/redis/index.js';
import { checkPack, HOLD_MAX, HOLD_MS, makePack, makePackResult, PACK_MAX, planPacks, readPackResult, SEEN, SPREAD, TaskTimes, TINY_MS } from '../../src/redis/packs.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { withdrawnKey } from '../../src/redis/events.js';
import { toPortable } from '../../src/redis/names.js';
import { specOf } from '../../src/tasks/describe.js';
import { holdingProxy } from './holding-proxy.js';
import { failedReason, FIXTURE_TASKS_NAME, KEY, marks, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, tmpFile, uniqueQueue, until } from './helpers.js';

const key = Buffer.from(KEY);
const task = { kind: 'module', path: 'test/fixtures/redis-tasks.mjs', package: 'concur', name: 'mark' } as const;

describe('packs: planning and the wire', () => {
  it('a plan keeps every item once, in order; packs hold only packable items, 2 to PACK_MAX of them, and are the same size but the last', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 5000 }), (flags) => {
        const items = flags.map((packable, i) => ({ i, packable }));
        const plan = planPacks(items, (x) => x.packable);
        const flat = plan.flatMap((p) => ('pack' in p ? p.pack : [p.single]));
        // Order within packs and singles: by first member.
        assert.deepEqual(
          flat.map((x) => x.i).sort((a, b) => a - b),
          items.map((x) => x.i),
        );
        const packs = plan.filter((p): p is { pack: typeof items } => 'pack' in p).map((p) => p.pack);
        const n = flags.filter(Boolean).length;
        const size = Math.min(PACK_MAX, Math.ceil(n / SPREAD));
        if (size < 2) assert.equal(packs.length, 0);
        for (const [j, pack] of packs.entries()) {
          assert.ok(pack.every((x) => x.packable));
          assert.ok(pack.length >= 2 && pack.length <= PACK_MAX);
          if (j < packs.length - 1) assert.equal(pack.length, size);
          for (let k = 1; k < pack.length; k++) assert.ok(pack[k]!.i > pack[k - 1]!.i);
        }
        // A backlog of packable items makes at least SPREAD packs (fewer only when they are PACK_MAX long).
        if (size >= 2 && size < PACK_MAX) assert.ok(packs.length >= Math.min(SPREAD, Math.floor(n / size)));
      }),
      { numRuns: 300 },
    );
  });

  it('a pack is signed: a changed member, a changed id or another key is refused; the version is checked', () => {
    const pack = makePack(key, 'q', 'e-9', [
      { id: 'e-1', task, mode: 0, args: 'j[1]' },
      { id: 'e-2', task, mode: 0, args: 'j[2]' },
    ]);
    const data = JSON.parse(JSON.stringify(pack));
    const members = checkPack(key, 'q', 'e-9', data);
    assert.ok(Array.isArray(members));
    assert.deepEqual(
      members.map((m) => [m.id, m.args, m.task.name]),
      [
        ['e-1', 'j[1]', 'mark'],
        ['e-2', 'j[2]', 'mark'],
      ],
    );
    assert.match(String(checkPack(key, 'q', 'e-8', data)), /not signed/);
    assert.match(String(checkPack(key, 'other-queue', 'e-9', data)), /not signed/);
    assert.match(String(checkPack(Buffer.from('another-key-0123456789'), 'q', 'e-9', data)), /not signed/);
    const changed = JSON.parse(JSON.stringify(pack));
    changed.b[1].a = 'j[3]';
    assert.match(String(checkPack(key, 'q', 'e-9', changed)), /not signed/);
    assert.match(String(checkPack(key, 'q', 'e-9', { ...data, concur: 1 })), /has format version 1; this worker reads version/);
    assert.match(String(checkPack(key, 'q', 'e-9', { ...data, b: [{ x: 'e-1' }] })), /malformed/);
    assert.match(String(checkPack(key, 'q', 'e-9', { ...data, b: [] })), /malformed/);
  });

  it("a pack's result is signed: a forged or miscounted one is refused", () => {
    const result = JSON.parse(JSON.stringify(makePackResult(key, 'q', 'e-9', [[1, 'j2', 0.01234], [0, 'oops', 1]])));
    assert.deepEqual(readPackResult(key, 'q', 'e-9', result, 2), [
      [1, 'j2', 0.012],
      [0, 'oops', 1],
    ]);
    assert.match(String(readPackResult(key, 'q', 'e-9', result, 3)), /malformed/);
    assert.match(String(readPackResult(key, 'q', 'e-8', result, 2)), /not signed/);
    assert.match(String(readPackResult(key, 'q', 'e-9', { ...result, r: [[1, 'j3', 0], [0, 'oops', 1]] }, 2)), /not signed/);
    assert.match(String(readPackResult(key, 'q', 'e-9', null, 2)), /not a concur result/);
  });

  it('a task is tiny once SEEN results said it ran in TINY_MS at most (their median: a slow first run does not count), and stops being so when it slows', () => {
    const times = new TaskTimes();
    times.record('t', 200 * TINY_MS); // a first run, its code not compiled yet
    for (let i = 0; i < SEEN - 2; i++) times.record('t', 0.01);
    assert.equal(times.tiny('t'), false);
    times.record('t', 0.01);
    assert.equal(times.tiny('t'), true);
    for (let i = 0; i < 4; i++) times.record('t', 10 * TINY_MS);
    assert.equal(times.tiny('t'), true, 'most of the latest are still tiny');
    for (let i = 0; i < 4; i++) times.record('t', 10 * TINY_MS);
    assert.equal(times.tiny('t'), false);
    assert.equal(times.tiny('never seen'), false);
  });

  it('a backlog of a task not yet timed: probes first, then held until timed, or HOLD_MS after one started, or HOLD_MAX', () => {
    const times = new TaskTimes();
    assert.equal(times.backlog('t', 0), 'probe');
    assert.equal(times.backlog('t', 1), 'hold');
    assert.equal(times.backlog('t', HOLD_MAX - 1), 'hold');
    assert.equal(times.backlog('t', HOLD_MAX), 'send');
    const started = new TaskTimes();
    assert.equal(started.backlog('s', 0), 'probe');
    started.started('s', 100);
    started.started('s', 150);
    assert.equal(started.backlog('s', 100 + HOLD_MS - 1), 'hold');
    assert.equal(started.backlog('s', 100 + HOLD_MS), 'send');
    const timed = new TaskTimes();
    assert.equal(timed.backlog('u', 0), 'probe');
    for (let i = 0; i < SEEN; i++) timed.record('u', 50);
    assert.equal(timed.backlog('u', 1), 'send');
    assert.equal(timed.tiny('u'), false);
  });
});

/** How many jobs of `queue` completed, by its event stream. */
async function completedJobs(queue: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    const entries = (await redis.xrange(`bull:${queue}:events`, '-', '+')) as Array<[string, string[]]>;
    return entries.filter(([, f]) => f[0] === 'event' && f[1] === 'completed').length;
  } finally {
    redis.disconnect();
  }
}

/** Submits `mark` SEEN times one at a time, so that the executor learns it is tiny. */
async function learn(ex: RedisExecutor, file: string): Promise<void> {
  for (let i = 0; i < SEEN; i++) assert.equal(await ex.submit(redisTasks.mark, file, -1 - i), -2 - 2 * i);
}

/**
 * With `mark` timed as tiny and the worker's one slot held by another job, submits
 * `xs` (so their packs wait in Redis); returns their Futures and what lets the slot go.
 */
async function packsThatWait(ex: RedisExecutor, file: string, xs: number[]): Promise<{ fs: Array<RedisFuture<number>>; release: () => Promise<void> }> {
  await learn(ex, file);
  const releaseFile = `${file}.release`;
  const hold = ex.submit(redisTasks.holdUntil, releaseFile);
  await until(() => hold.running(), 'the holding job to run');
  const fs = xs.map((x) => ex.submit(redisTasks.mark, file, x));
  await until(() => ex.stats().waiting === xs.length, 'the packs to reach Redis');
  return {
    fs,
    release: async () => {
      writeFileSync(releaseFile, '');
      assert.equal(await hold, 'released');
    },
  };
}

/** Runs `body` with a RedisWorker of its own serving a fresh queue, closed and the queue removed after. */
async function withWorker(tag: string, pool: 'async' | 'process', workers: number, body: (queue: string, worker: RedisWorker) => Promise<void>): Promise<void> {
  const queue = uniqueQueue(tag);
  const worker = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [REDIS_TASKS_JS], pool, workers });
  try {
    await body(queue, worker);
  } finally {
    await worker.close();
    await obliterate(queue);
  }
}

describe('packs through Redis', { skip: skipReason }, () => {
  it('many Futures of a tiny task go in packs: each gets its own result or error, and a pack is one job', () =>
    withWorker('packs', 'async', 8, async (queue, worker) => {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const file = tmpFile();
      await learn(ex, file);
      const before = await completedJobs(queue);
      const n = 2000;
      const fs = Array.from({ length: n }, (_, i) => ex.submit(redisTasks.mark, file, i, 777));
      const settled = await Promise.allSettled(fs.map((f) => f.result()));
      settled.forEach((s, i) => {
        if (i === 777) {
          assert.equal(s.status, 'rejected');
          assert.ok((s as PromiseRejectedResult).reason instanceof RangeError);
          assert.match(String((s as PromiseRejectedResult).reason), /bad item 777/);
        } else assert.deepEqual(s, { status: 'fulfilled', value: 2 * i });
      });
      const jobs = (await completedJobs(queue)) - before;
      assert.ok(jobs <= n / 8, `${n} Futures took ${jobs} jobs`);
      assert.equal(worker.stats().completed, SEEN + n - 1);
      assert.equal(worker.stats().failed, 1);
      assert.equal(ex.stats().completed, SEEN + n - 1);
    }));

  it("members whose task's result is awaited get it as a structured clone; a rejected or unsendable one fails alone", () =>
    withWorker('packs-shape', 'async', 4, async (queue) => {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      for (let i = 0; i < SEEN; i++) assert.deepEqual(await ex.submit(redisTasks.shape, i), { at: new Date(i), tags: new Set([i]) });
      const before = await completedJobs(queue);
      const n = 500;
      const settled = await Promise.allSettled(Array.from({ length: n }, (_, i) => ex.submit(redisTasks.shape, i, 100, 200).result()));
      settled.forEach((s, i) => {
        if (i === 100) assert.match(String((s as PromiseRejectedResult).reason), /the result of task shape cannot be sent through Redis/);
        else if (i === 200) assert.ok((s as PromiseRejectedResult).reason instanceof RangeError, String((s as PromiseRejectedResult).reason));
        else assert.deepEqual(s, { status: 'fulfilled', value: { at: new Date(i), tags: new Set([i]) } });
      });
      assert.ok((await completedJobs(queue)) - before <= n / 8, 'they went in packs');
    }));

  it('a member cancelled while its pack waits never runs; the rest of the pack does', () =>
    withWorker('packs-cancel', 'async', 1, async (queue) => {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const file = tmpFile();
      const { fs, release } = await packsThatWait(ex, file, Array.from({ length: 200 }, (_, i) => i));
      const cancelled = [3, 4, 150];
      for (const i of cancelled) assert.equal(fs[i]!.cancel(), true);
      // Written down too, for a worker that would go on without the pack's go.
      const redis = new Redis(REDIS_URL);
      const marked = async (): Promise<number> => redis.exists(...cancelled.map((i) => withdrawnKey('bull', queue, fs[i]!.jobId)));
      try {
        await until(async () => (await marked()) === cancelled.length, 'the cancelled members to be written down');
        await release();
        await Promise.all(fs.filter((f) => !f.cancelled()).map((f) => f.result()));
        await until(async () => (await marked()) === 0, 'the marks to go with their packs');
      } finally {
        redis.disconnect();
      }
      for (const [i, f] of fs.entries()) {
        if (cancelled.includes(i)) assert.equal(f.cancelled(), true);
        else assert.equal(await f, 2 * i);
      }
      const ran = new Set(marks(file).map(Number));
      for (const i of cancelled) assert.ok(!ran.has(i), `cancelled member ${i} ran`);
      for (let i = 0; i < 200; i++) if (!cancelled.includes(i)) assert.ok(ran.has(i), `member ${i} did not run`);
    }));

  it('a pack whose members are all cancelled while it waits is withdrawn, and nothing of it runs', () =>
    withWorker('packs-withdraw', 'async', 1, async (queue) => {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const file = tmpFile();
      const { fs, release } = await packsThatWait(ex, file, Array.from({ length: 100 }, (_, i) => 1000 + i));
      for (const f of fs) assert.equal(f.cancel(), true);
      await release();
      const after = await ex.submit(redisTasks.mark, file, 5000);
      assert.equal(after, 10_000);
      assert.deepEqual(
        marks(file).filter((m) => Number(m) >= 1000 && Number(m) < 5000),
        [],
      );
    }));

  it('a member that kills its pool worker fails alone with WorkerCrashedError; the others of its pack complete', () =>
    withWorker('packs-crash', 'process', 2, async (queue) => {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const file = tmpFile();
      await learn(ex, file);
      const before = await completedJobs(queue);
      const fs = Array.from({ length: 300 }, (_, i) => ex.submit(redisTasks.mark, file, i, -100, 123));
      const settled = await Promise.allSettled(fs.map((f) => f.result()));
      settled.forEach((s, i) => {
        if (i === 123) {
          assert.equal(s.status, 'rejected');
          assert.ok((s as PromiseRejectedResult).reason instanceof WorkerCrashedError, String((s as PromiseRejectedResult).reason));
        } else assert.deepEqual(s, { status: 'fulfilled', value: 2 * i });
      });
      assert.ok((await completedJobs(queue)) - before <= 300 / 4, 'they went in packs');
    }));

  it('with no events at all, the members of packs still settle (their results read from the pack by the sweep)', () =>
    withWorker('packs-sweep', 'async', 4, async (queue) => {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY, pollInterval: 100, _noEvents: true });
      const file = tmpFile();
      await learn(ex, file);
      const before = await completedJobs(queue);
      const fs = Array.from({ length: 500 }, (_, i) => ex.submit(redisTasks.mark, file, i, 42));
      const settled = await Promise.allSettled(fs.map((f) => f.result()));
      settled.forEach((s, i) => {
        if (i === 42) assert.match(String((s as PromiseRejectedResult).reason), /RangeError: bad item 42/);
        else assert.deepEqual(s, { status: 'fulfilled', value: 2 * i });
      });
      assert.ok((await completedJobs(queue)) - before <= 500 / 4);
    }));

  it("a worker that goes on without a go (the executor's lease gone) does not start the members written down as withdrawn", () =>
    withWorker('packs-unleased', 'async', 1, async (queue) => {
      const file = tmpFile();
      const mark = toPortable(specOf(redisTasks.mark));
      const members = [0, 1, 2].map((x) => ({ id: `gone-${10 + x}`, task: mark, mode: 0 as const, args: `j${JSON.stringify([file, x])}` }));
      const jobs = new Queue(queue, { connection: { url: REDIS_URL } });
      const redis = new Redis(REDIS_URL);
      try {
        // An executor "gone" (no lease) that had cancelled member 1.
        await redis.set(withdrawnKey('bull', queue, 'gone-11'), '1', 'EX', 60);
        await jobs.add('pack of 3', makePack(key, queue, 'gone-1', members), { jobId: 'gone-1' });
        await until(async () => (await jobs.getJob('gone-1'))?.finishedOn !== undefined, 'the pack to end');
        const result = readPackResult(key, queue, 'gone-1', (await jobs.getJob('gone-1'))!.returnvalue, 3);
        assert.ok(Array.isArray(result));
        assert.deepEqual(
          result.map(([ok, v]) => [ok, ok === 1 ? v : /CancelledError/.test(v)]),
          [
            [1, 'j0'],
            [0, true],
            [1, 'j4'],
          ],
        );
        assert.deepEqual(marks(file), ['0', '2']);
      } finally {
        redis.disconnect();
        await jobs.close();
      }
    }));

  it("a pack failed by its dying workers while the sweep reads it: its members go again alone, none settled by that read", () =>
    withWorker('packs-sweep-race', 'async', 1, async (queue) => {
      // The sweep's read of the pack's hash is held in a proxy until the pack has failed
      // as BullMQ fails a job whose workers kept dying, and its members went again alone.
      let marker: string | undefined;
      const proxy = await holdingProxy(new URL(REDIS_URL), () => marker);
      const thief = new Worker(queue, undefined, { connection: { url: REDIS_URL }, autorun: false });
      const redis = new Redis(REDIS_URL);
      try {
        await using ex = new RedisExecutor({ connection: `redis://127.0.0.1:${proxy.port}`, queue, key: KEY, pollInterval: 50 });
        const file = tmpFile();
        const { fs, release } = await packsThatWait(ex, file, Array.from({ length: 200 }, (_, i) => i));
        // A "worker" that takes a pack and dies with it.
        const job = (await thief.getNextJob('dead-worker'))!;
        assert.ok(job.name.startsWith('pack of'), job.name);
        const members = (job.data as { b: Array<{ x: string }> }).b.map((m) => m.x);
        await until(() => fs.filter((f) => members.includes(f.jobId)).every((f) => f.running()), 'the pack to be told go');
        marker = `${queue}:${job.id}\r\n$10\r\nfinishedOn`;
        await proxy.held;
        await job.moveToFailed(new Error('job stalled more than allowable limit'), 'dead-worker');
        await until(async () => (await redis.exists(...members.map((id) => `bull:${queue}:${id}`))) === members.length, 'the members to go again alone');
        proxy.release();
        await release();
        const settled = await Promise.allSettled(fs.map((f) => f.result()));
        settled.forEach((s, i) => assert.deepEqual(s, { status: 'fulfilled', value: 2 * i }, `member ${i}`));
      } finally {
        redis.disconnect();
        await thief.close();
        proxy.close();
      }
    }));

  it('a pack taken by a worker that dies runs again elsewhere without the member cancelled before its first go', () =>
    withWorker('packs-rerun', 'async', 1, async (queue) => {
      // A "worker" that takes a pack and dies (never renews its lock): the real worker's
      // stalled check gives it back to the queue, and it runs there.
      const thief = new Worker(queue, undefined, { connection: { url: REDIS_URL }, autorun: false, lockDuration: 300 });
      try {
        await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
        const file = tmpFile();
        const { fs, release } = await packsThatWait(ex, file, Array.from({ length: 200 }, (_, i) => i));
        const cancelled = fs[1]!;
        assert.equal(cancelled.cancel(), true);
        const job = (await thief.getNextJob('dead-worker'))!;
        const members = (job.data as { b: Array<{ x: string }> }).b.map((m) => m.x);
        assert.ok(members.includes(cancelled.jobId), 'the thief took the pack of the cancelled member');
        await until(() => fs.filter((f) => members.includes(f.jobId) && f !== cancelled).every((f) => f.running()), 'the pack to be told go');
        await release();
        const settled = await Promise.allSettled(fs.map((f) => f.result()));
        settled.forEach((s, i) => {
          if (i === 1) assert.equal(s.status, 'rejected');
          else assert.deepEqual(s, { status: 'fulfilled', value: 2 * i }, `member ${i}`);
        });
        assert.ok(!marks(file).includes('1'), 'the cancelled member ran');
        assert.equal(marks(file).filter((m) => m === '0').length, 1, 'member 0 ran once (its first worker never started it)');
      } finally {
        await thief.close();
      }
    }));

  it("a pack's result settles its members in turn: a member's done-callback cannot cancel a later member, which ran", () =>
    withWorker('packs-callback', 'async', 4, async (queue) => {
      // No go was asked for (no lease: the worker went on alone), so the members are
      // PENDING when the sweep reads the pack's result.
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY, pollInterval: 1000, _noEvents: true });
      const file = tmpFile();
      const probes = Array.from({ length: SEEN }, (_, i) => ex.submit(redisTasks.mark, file, -1 - i));
      assert.deepEqual(await Promise.all(probes.map((f) => f.result())), probes.map((_, i) => -2 - 2 * i));
      const before = await completedJobs(queue);
      const fs = Array.from({ length: 100 }, (_, i) => ex.submit(redisTasks.mark, file, i));
      let cancelled: boolean | undefined;
      fs[0]!.addDoneCallback(() => (cancelled = fs[1]!.cancel()));
      assert.equal(await fs[0], 0);
      assert.equal(cancelled, false, 'member 1 was cancelled after its task ran');
      assert.equal(await fs[1], 2);
      await Promise.all(fs.map((f) => f.result()));
      assert.ok(marks(file).includes('1'));
      assert.ok((await completedJobs(queue)) - before <= 100 / 4, 'they went in packs');
    }));

  it('a pack not signed with the worker key fails without running any member', async () => {
    const queue = uniqueQueue('packs-forged');
    const worker = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 1 });
    const jobs = new Queue(queue, { connection: { url: REDIS_URL } });
    try {
      const file = tmpFile();
      const path = FIXTURE_TASKS_NAME.replace(/tasks\.ts$/, 'redis-tasks.mjs');
      const forged = makePack(Buffer.from('not-the-key-0123456789'), queue, 'x-1', [
        { id: 'x-2', task: { ...task, path }, mode: 0, args: `j${JSON.stringify([file, 1])}` },
        { id: 'x-3', task: { ...task, path }, mode: 0, args: `j${JSON.stringify([file, 2])}` },
      ]);
      await jobs.add('pack of 2', forged, { jobId: 'x-1' });
      await until(async () => (await failedReason(jobs, 'x-1')) !== undefined, 'the forged pack to fail');
      assert.match((await failedReason(jobs, 'x-1'))!, /AuthenticationError: job x-1 is not signed with this worker's key/);
      assert.deepEqual(marks(file), []);
    } finally {
      await jobs.close();
      await worker.close();
      await obliterate(queue);
    }
  });
});
