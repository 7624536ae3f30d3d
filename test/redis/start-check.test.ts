// A worker loads its task modules before it serves: one that cannot load (a missing
// dependency, a syntax error) stops the start with the reason, rather than a worker that
// says "serving" and then fails every job it takes. TypeScript task modules load on every
// pool, 'async' (the worker's own thread) included.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defineTasks } from '../../src/index.js';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { REPO, runNode, startNode } from '../fixtures/run-node.js';
import { KEY, obliterate, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/concur.js', import.meta.url));
const ENV = { ...process.env, CONCUR_KEY: KEY, REDIS_URL };
const UNLOADABLE = join(REPO, 'test/fixtures/redis-unloadable.mjs');
const REASON = /cannot load task module .*redis-unloadable\.mjs: missing dependency on this machine/;

describe('a worker checks its task modules as it starts', { skip: skipReason }, () => {
  for (const pool of ['process', 'thread', 'async'] as const) {
    it(`RedisWorker.start with pool '${pool}' rejects naming the module that cannot load, and why`, async () => {
      const queue = uniqueQueue(`unloadable-${pool}`);
      try {
        const start = RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [UNLOADABLE], pool, workers: 1 }).then(async (w) => {
          await w.close();
          throw new Error('the worker started');
        });
        await assert.rejects(start, REASON);
      } finally {
        await obliterate(queue);
      }
    });
  }

  const NO_TASKS = join(REPO, 'test/fixtures/redis-no-tasks.mjs');
  const NONE = /task module .*redis-no-tasks\.mjs defines no tasks: define them with defineTasks\(import\.meta\.url/;
  for (const pool of ['process', 'thread', 'async'] as const) {
    it(`RedisWorker.start with pool '${pool}' rejects a module that defines no tasks, naming it`, async () => {
      const queue = uniqueQueue(`no-tasks-${pool}`);
      try {
        const start = RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [NO_TASKS], pool, workers: 1 }).then(async (w) => {
          await w.close();
          throw new Error('the worker started');
        });
        await assert.rejects(start, NONE);
      } finally {
        await obliterate(queue);
      }
    });
  }

  it('concur worker exits 2 without serving when a task module defines no tasks', async () => {
    const queue = uniqueQueue('no-tasks-cli');
    try {
      const run = await runNode([BIN, 'worker', '--queue', queue, '--tasks', NO_TASKS, '--workers', '1'], { cwd: REPO, env: ENV, timeoutMs: 60_000 });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, NONE);
      assert.doesNotMatch(run.stdout, /serving queue/);
    } finally {
      await obliterate(queue);
    }
  });

  it('a module whose import never ends fails the start within startTimeout, naming it (thread pool)', async () => {
    const queue = uniqueQueue('never-loads');
    const module = join(REPO, 'test/fixtures/redis-never-loads.mjs');
    try {
      const start = RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [module], pool: 'thread', workers: 1, startTimeout: 1500 }).then(async (w) => {
        await w.close();
        throw new Error('the worker started');
      });
      await assert.rejects(start, /task module .*redis-never-loads\.mjs did not finish loading within 1500 ms/);
    } finally {
      await obliterate(queue);
    }
  });

  it('concur worker exits 2 (it could not start) without serving, saying which module cannot load', async () => {
    const queue = uniqueQueue('unloadable-cli');
    try {
      const run = await runNode([BIN, 'worker', '--queue', queue, '--tasks', UNLOADABLE, '--workers', '1'], { cwd: REPO, env: ENV, timeoutMs: 60_000 });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, REASON);
      assert.doesNotMatch(run.stdout, /serving queue/);
    } finally {
      await obliterate(queue);
    }
  });

  it("serves a TypeScript task module with --pool async (tsx found from the working directory)", async () => {
    const queue = uniqueQueue('ts-async');
    const dir = mkdtempSync(join(tmpdir(), 'concur-ts-tasks-'));
    const module = join(dir, 'tasks.ts');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'ts-tasks', type: 'module' }));
    writeFileSync(
      module,
      `import { defineTasks } from ${JSON.stringify(pathToFileURL(join(REPO, 'dist/index.js')).href)};\n` +
        `export const tsTasks = defineTasks(import.meta.url, {\n  double(x: number): number {\n    return x * 2;\n  },\n});\n`,
    );
    const w = startNode([BIN, 'worker', '--queue', queue, '--tasks', module, '--pool', 'async', '--workers', '2'], { cwd: REPO, env: ENV, timeoutMs: 60_000 });
    try {
      await w.waitFor(/serving queue/);
      await using ex = new RedisExecutor({ connection: REDIS_URL, queue, key: KEY });
      // The same task named from here without importing the .ts (this process has no tsx):
      // a job names a task by its module and key.
      const tsTasks = defineTasks(pathToFileURL(module).href, {
        double(x: number): number {
          return x * 2;
        },
      });
      assert.equal(await ex.submit(tsTasks.double, 21).result(20_000), 42);
    } finally {
      try {
        process.kill(-w.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await obliterate(queue);
    }
  });
});
