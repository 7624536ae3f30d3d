import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import { AuthenticationError, Event, Lock, TaskNotFoundError } from '../../src/index.js';
import { toProxy } from '../../src/proxy/proxies.js';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { files, tasks } from '../fixtures/tasks.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { REPO } from '../fixtures/run-node.js';
import type { PortableTask } from '../../src/redis/names.js';
import { FORMAT, makeJob } from '../../src/redis/wire.js';
import { FIXTURE_TASKS, FIXTURE_TASKS_NAME, KEY, literally, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

const marksFile = (): string => join(mkdtempSync(join(tmpdir(), 'concur-redis-')), 'marks');
const marks = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

/** Adds a raw job to `queue` and resolves with its failedReason once a worker has failed it. */
async function failedReasonOf(queue: string, data: unknown, jobId?: string): Promise<string> {
  const q = new Queue(queue, { connection: { url: REDIS_URL } });
  const events = new QueueEvents(queue, { connection: { url: REDIS_URL } });
  try {
    await events.waitUntilReady();
    const job = await q.add('raw', data, jobId === undefined ? {} : { jobId });
    return await new Promise<string>((resolve, reject) => {
      events.on('failed', ({ jobId, failedReason }) => jobId === job.id && resolve(failedReason));
      events.on('completed', ({ jobId }) => jobId === job.id && reject(new Error('the job ran')));
    });
  } finally {
    await events.close();
    await q.close();
  }
}

describe('Redis trust: signed jobs, versions, proxies, task names', { skip: skipReason }, () => {
  const queue = uniqueQueue('trust');
  let worker: RedisWorker;
  before(async () => {
    worker = await RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [FIXTURE_TASKS, REDIS_TASKS_JS], pool: 'thread', workers: 1 });
  });
  after(async () => {
    await worker?.close();
    await obliterate(queue);
  });

  it('a job signed with another key is refused without running; its Future fails with AuthenticationError', async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: 'another-key-0123456789' });
    const file = marksFile();
    const err = await ex.submit(files.mark, file, 1).exception();
    assert.ok(err instanceof AuthenticationError, String(err));
    assert.match((err as Error).message, /not signed with this executor's key.*the worker said: AuthenticationError: job .* is not signed with this worker's key: refused without running/s);
    assert.deepEqual(marks(file), []);
  });

  it('an unsigned job, a tampered one and one of another format version fail without running', async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
    const file = marksFile();
    const args = `j${JSON.stringify([file, 1])}`;
    const task = { kind: 'module', path: 'test/fixtures/tasks.ts', package: 'concur', name: 'mark' };
    assert.match(await failedReasonOf(queue, { concur: FORMAT, n: 'mark', p: task.path, k: 'concur', a: args, s: '00' }), /is not signed with this worker's key: refused without running/);
    assert.match(await failedReasonOf(queue, { concur: FORMAT + 1, n: 'mark', p: task.path, k: 'concur', a: args, s: '00' }), new RegExp(`has format version ${FORMAT + 1}; this worker reads version ${FORMAT}`));
    // A job of version 3 (long field names) is told apart by its version, not refused as malformed.
    assert.match(await failedReasonOf(queue, { concur: 3, task, mode: 0, args, timeout: null, sig: '00' }), new RegExp(`has format version 3; this worker reads version ${FORMAT}`));
    assert.match(await failedReasonOf(queue, { concur: FORMAT, n: 'mark', p: task.path, i: 'x', a: args, s: '00' }), /is malformed/);
    assert.match(await failedReasonOf(queue, { hello: 'world' }), /is not a concur job/);
    // Signed for one call, then its arguments changed: the signature covers them.
    const signed = makeJob(Buffer.from(KEY), queue, 'tampered-1', task as PortableTask, 0, args, null);
    const tampered = { ...signed, a: `j${JSON.stringify([file, 2])}` };
    assert.match(await failedReasonOf(queue, tampered, 'tampered-1'), /job tampered-1 is not signed with this worker's key/);
    // A signed job copied under another id is refused too: the id is signed.
    assert.match(await failedReasonOf(queue, signed, 'copied-1'), /job copied-1 is not signed with this worker's key/);
    assert.deepEqual(marks(file), []);
    assert.equal(await ex.submit(tasks.inc, 1), 2, 'the worker goes on');
  });

  it('refuses primitives and proxies as arguments with an error naming the argument', async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
    const lock = new Lock();
    await assert.rejects(ex.submit(tasks.add, 1, lock as never).result(), (e) => e instanceof TypeError && /task add: argument 1 is a Lock, which lives in this machine's memory/.test(e.message));
    await assert.rejects(ex.submit(tasks.inc, { deep: [new Event()] } as never).result(), /argument 0.deep\[0\] is a Event/);
    const proxy = toProxy(new Lock(), false); // a proxy, not the memory a Lock crosses into processes as
    await assert.rejects(ex.submit(tasks.inc, proxy as never).result(), /argument 0 is a proxy \(SemLock\), which carries its owner's address and authkey: proxies are refused/);
    await assert.rejects(ex.submit(tasks.inc, (() => 1) as never).result(), /an argument of task inc cannot be sent through Redis/);
  });

  it('inline functions run only on a worker started with allowInline', async () => {
    await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
    await assert.rejects(ex.submit((a: number) => a * 2, 21).result(), new RegExp(`worker ${worker.name.replace(/[.:]/g, '\\$&')} does not run inline functions`));
  });

  it('a worker that lacks the task fails its Future with an error naming the task and the worker', async () => {
    const other = uniqueQueue('lacks');
    const only = await RedisWorker.start({ connection: REDIS_URL, queue: other, key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', workers: 1, name: 'lonely-worker' });
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue: other, key: KEY });
      const err = (await ex.submit(tasks.add, 1, 2).exception()) as Error;
      assert.ok(err instanceof TaskNotFoundError, `a TaskNotFoundError, as itself: ${String(err)}`);
      assert.match(err.message, new RegExp(`worker lonely-worker does not serve task add from ${literally(FIXTURE_TASKS_NAME)} \\(package concur\\): its task modules are test/fixtures/redis-tasks\\.mjs`));
    } finally {
      await only.close();
      await obliterate(other);
    }
  });

  it('a task is found by its path in the package, so a checkout of the same code elsewhere serves it', async () => {
    // Another checkout: the fixture at the same path from a package root in a temporary folder.
    const root = mkdtempSync(join(tmpdir(), 'concur-checkout-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'concur', type: 'module' }));
    const copy = join(root, 'test/fixtures/redis-tasks.mjs');
    mkdirSync(dirname(copy), { recursive: true });
    cpSync(REDIS_TASKS_JS, copy);
    mkdirSync(join(root, 'node_modules'));
    symlinkSync(REPO, join(root, 'node_modules/concur'));
    const other = uniqueQueue('checkout');
    const there = await RedisWorker.start({ connection: REDIS_URL, queue: other, key: KEY, tasks: [copy], pool: 'thread', workers: 1 });
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue: other, key: KEY });
      assert.equal(await ex.submit(redisTasks.where), pathToFileURL(copy).href);
    } finally {
      await there.close();
      await obliterate(other);
    }
  });
});
