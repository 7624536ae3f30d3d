/**
 * `concur worker` processes, as machines would run them: a SIGKILLed worker's job runs
 * again on another, a job that keeps killing its workers fails with WorkerCrashedError,
 * SIGTERM lets the running job finish and takes no more, a crash fails only its job.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { WorkerCrashedError } from '../../src/index.js';
import { RedisExecutor } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { REPO, runNode, startNode, type StartedNode } from '../fixtures/run-node.js';
import { KEY, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, uniqueQueue, until } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/concur.js', import.meta.url));
const ENV = { ...process.env, CONCUR_KEY: KEY, REDIS_URL };

const marksFile = (): string => join(mkdtempSync(join(tmpdir(), 'concur-redis-')), 'marks');
const marks = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

/** Starts `concur worker` on `queue` and waits until it serves. */
async function startWorker(queue: string, name: string, extra: string[] = []): Promise<StartedNode> {
  const w = startNode([BIN, 'worker', '--queue', queue, '--tasks', REDIS_TASKS_JS, '--pool', 'process', '--workers', '1', '--name', name, ...extra], {
    cwd: REPO,
    env: ENV,
    timeoutMs: 60_000,
  });
  await w.waitFor(/serving queue/);
  return w;
}

function killGroup(w: StartedNode, signal: NodeJS.Signals): void {
  try {
    process.kill(-w.pid, signal);
  } catch {
    // already gone
  }
}

describe('concur worker', { skip: skipReason }, () => {
  it("a SIGKILLed worker's job runs again on another worker within 10 s", async () => {
    const queue = uniqueQueue('failover');
    const [a, b] = await Promise.all([startWorker(queue, 'wa'), startWorker(queue, 'wb')]);
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      // The workers' pools started first (two jobs at once, most often one each), so the
      // rerun measures the failover more than a process starting on a loaded machine.
      const warm = marksFile();
      await Promise.all([ex.submit(redisTasks.note, warm, 'warm', 300), ex.submit(redisTasks.note, warm, 'warm', 300)]);
      const file = marksFile();
      const f = ex.submit(redisTasks.hangFirstTime, file);
      await until(() => marks(file).length === 1, 'the job to start');
      const first = Number(marks(file)[0]);
      const victim = first === a.pid ? a : b;
      assert.equal(victim.pid, first, 'the job runs in one of the two workers');
      const killedAt = performance.now();
      killGroup(victim, 'SIGKILL'); // the machine dies: the worker and its pool
      await until(() => marks(file).length === 2, 'the job to run again', 30_000, 20);
      const took = performance.now() - killedAt;
      assert.ok(took < 10_000, `ran again ${Math.round(took)} ms after the kill`);
      const rerunBy = await f;
      assert.notEqual(rerunBy, first, 'it ran again on the other worker');
    } finally {
      killGroup(a, 'SIGKILL');
      killGroup(b, 'SIGKILL');
      await obliterate(queue);
    }
  });

  it('a run that ends after its job was removed (a second run settled it first) leaves the worker serving, with at most one line said', async () => {
    const queue = uniqueQueue('late-run');
    const w = await startWorker(queue, 'late');
    const jobs = new Queue(queue, { connection: { url: REDIS_URL } });
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const file = marksFile();
      const f = ex.submit(redisTasks.note, file, 'late', 1000);
      await until(() => marks(file).length === 1, 'the job to start');
      const before = w.output();
      // As after a lapsed lock: the lock gone, the job's records are removed under the run.
      const admin = new Redis(REDIS_URL);
      await admin.del(`${jobs.qualifiedName}:${f.jobId}:lock`).finally(() => admin.disconnect());
      assert.equal(await jobs.remove(f.jobId), 1);
      assert.match(String(await f.exception()), /was removed from queue/);
      // One slot: the next job runs only once the late run has ended and its end was refused.
      assert.equal(await ex.submit(redisTasks.inc, 1).result(20_000), 2);
      const after = w.output();
      const said = (after.stdout.slice(before.stdout.length) + after.stderr.slice(before.stderr.length)).split('\n').filter(Boolean);
      assert.ok(said.length <= 1, said.join('\n'));
      assert.equal(await ex.submit(redisTasks.inc, 2).result(20_000), 3);
    } finally {
      killGroup(w, 'SIGKILL');
      await jobs.close();
      await obliterate(queue);
    }
  });

  it('a job that keeps killing its workers fails with WorkerCrashedError after maxStalledCount reruns', async () => {
    const queue = uniqueQueue('killer');
    const fast = ['--lock-duration', '1000', '--stalled-interval', '200', '--max-stalled', '1'];
    const workers = await Promise.all(['k1', 'k2', 'k3'].map((n) => startWorker(queue, n, fast)));
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const file = marksFile();
      const err = await ex.submit(redisTasks.killMyWorker, file).exception();
      assert.ok(err instanceof WorkerCrashedError, String(err));
      assert.match(err.message, /killMyWorker .* died or lost its lock too often/);
      assert.equal(new Set(marks(file)).size, 2, 'it ran on two workers, each of which it killed');
    } finally {
      for (const w of workers) killGroup(w, 'SIGKILL');
      await obliterate(queue);
    }
  });

  it('a pack whose workers keep dying sends its members again alone: the others are not failed with it', async () => {
    const queue = uniqueQueue('pack-killer');
    const fast = ['--lock-duration', '1000', '--stalled-interval', '200', '--max-stalled', '1'];
    const workers = await Promise.all(['p1', 'p2', 'p3'].map((n) => startWorker(queue, n, fast)));
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const file = marksFile();
      const kills = marksFile();
      // Timed as tiny first (alone), then a backlog that goes in packs.
      for (let i = 0; i < 8; i++) assert.equal(await ex.submit(redisTasks.markOrKill, file, -1, 50, kills, 2), -2);
      const fs = Array.from({ length: 100 }, (_, i) => ex.submit(redisTasks.markOrKill, file, i, 50, kills, 2));
      const results = await Promise.all(fs.map((f) => f.result(60_000)));
      assert.deepEqual(results, Array.from({ length: 100 }, (_, i) => 2 * i));
      assert.equal(marks(kills).length, 2, 'its pack killed two workers, and then failed');
    } finally {
      for (const w of workers) killGroup(w, 'SIGKILL');
      await obliterate(queue);
    }
  });

  it('a crash fails only its job; SIGTERM finishes the running job, takes no more, and exits 0; status shows the queue', async () => {
    const queue = uniqueQueue('graceful');
    const w = await startWorker(queue, 'graceful-worker');
    try {
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      const crash = ex.submit(redisTasks.exit, 3);
      const others = [1, 2, 3].map((x) => ex.submit(redisTasks.inc, x));
      const err = await crash.exception();
      assert.ok(err instanceof WorkerCrashedError, String(err));
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /task exit \(test\/fixtures\/redis-tasks.mjs\) on worker graceful-worker exited with code 3/);
      assert.deepEqual(await Promise.all(others), [2, 3, 4]);

      // The executor removes the jobs it has the outcomes of: status counts none left behind.
      const jobs = new Queue(queue, { connection: { url: REDIS_URL } });
      try {
        await until(async () => {
          const c = await jobs.getJobCounts('completed', 'failed');
          return c.completed === 0 && c.failed === 0;
        }, 'the settled jobs to leave Redis');
      } finally {
        await jobs.close();
      }
      const status = await runNode([BIN, 'status', '--queue', queue, '--json'], { cwd: REPO, env: ENV });
      assert.equal(status.code, 0, status.stderr);
      const parsed = JSON.parse(status.stdout) as { counts: Record<string, number>; workers: string[] };
      assert.ok(parsed.workers.includes('graceful-worker'), status.stdout);
      assert.deepEqual(parsed.counts, { waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0, prioritized: 0 });

      const file = marksFile();
      const running = ex.submit(redisTasks.note, file, 'long', 1500);
      await until(() => marks(file).length === 1, 'the long job to start');
      killGroup(w, 'SIGTERM'); // to the group, as a service manager does: the pool's processes keep the job running
      await w.waitFor(/taking no more jobs; finishing 1 running/);
      const late = ex.submit(redisTasks.note, file, 'late', 0);
      assert.equal(await running, w.pid, 'the running job finished');
      const end = await w.done;
      assert.equal(end.code, 0, end.stderr);
      assert.match(end.stdout, /closed/);
      assert.equal(late.state, 'PENDING', 'the job submitted after SIGTERM waits for another worker');
      assert.deepEqual(marks(file).map((l) => l.split(' ')[0]), ['long']);
      await ex.shutdown({ cancelFutures: true });
      assert.equal(late.cancelled(), true);
    } finally {
      killGroup(w, 'SIGKILL');
      await obliterate(queue);
    }
  });

  it('a SIGTERM as soon as it says it serves closes it (exit 0) rather than killing it (5 tries)', async () => {
    const queue = uniqueQueue('early-stop');
    try {
      for (let i = 0; i < 5; i++) {
        const w = startNode([BIN, 'worker', '--queue', queue, '--tasks', REDIS_TASKS_JS, '--pool', 'async', '--workers', '1'], { cwd: REPO, env: ENV, timeoutMs: 60_000 });
        try {
          await w.waitFor(/serving queue/);
          process.kill(w.pid, 'SIGTERM');
          assert.deepEqual(await w.exited, { code: 0, signal: null }, `try ${i}: ${JSON.stringify(w.output())}`);
        } finally {
          killGroup(w, 'SIGKILL');
        }
      }
    } finally {
      await obliterate(queue);
    }
  });

  it('a second SIGTERM while the worker closes exits at once, with 143 (128 + SIGTERM) as a shell reports it', async () => {
    const queue = uniqueQueue('second-signal');
    const w = await startWorker(queue, 'impatient');
    const ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
    try {
      const file = marksFile();
      void ex.submit(redisTasks.note, file, 'long', 60_000).exception();
      await until(() => marks(file).length === 1, 'the long job to start');
      killGroup(w, 'SIGTERM');
      await w.waitFor(/taking no more jobs; finishing 1 running/);
      killGroup(w, 'SIGTERM');
      const end = await w.exited;
      assert.deepEqual(end, { code: 143, signal: null });
      assert.match(w.output().stderr, /SIGTERM again, exiting now/);
    } finally {
      killGroup(w, 'SIGKILL');
      await ex.shutdown({ wait: false, cancelFutures: true });
      await obliterate(queue);
    }
  });
});
