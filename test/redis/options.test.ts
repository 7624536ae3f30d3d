import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { REPO, runNode } from '../fixtures/run-node.js';
import { KEY, REDIS_TASKS_JS } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/concur.js', import.meta.url));

describe('Redis options and refusals (no Redis needed)', () => {
  it('RedisWorker.start fails, naming the Redis, when it cannot reach it within startTimeout', async () => {
    await assert.rejects(
      RedisWorker.start({ connection: 'redis://127.0.0.1:1', queue: 'q', key: KEY, tasks: [REDIS_TASKS_JS], pool: 'async', startTimeout: 500 }),
      /cannot reach Redis at redis:\/\/127.0.0.1:1 within 500 ms/,
    );
  });

  it('RedisWorker refuses bad options, naming them', async () => {
    await assert.rejects(RedisWorker.start({ queue: 'q', key: KEY, tasks: [] }), /tasks must be a non-empty array/);
    await assert.rejects(RedisWorker.start({ queue: 'q', key: KEY, tasks: ['./no/such/module.js'] }), /task module .\/no\/such\/module.js not found/);
    await assert.rejects(RedisWorker.start({ queue: 'q', key: KEY, tasks: [REDIS_TASKS_JS], pool: 'cluster' as never }), /pool must be 'process', 'thread' or 'async'/);
    await assert.rejects(RedisWorker.start({ queue: 'q', key: KEY, tasks: [REDIS_TASKS_JS], workers: 0 }), /workers must be an integer >= 1, got 0/);
    await assert.rejects(RedisWorker.start({ queue: 'q', key: KEY, tasks: [REDIS_TASKS_JS], lockDurationMs: 5 } as never), /unknown option "lockDurationMs"/);
  });

  it('RedisExecutor refuses a bad leaseMs, naming it, before it connects', () => {
    for (const bad of [999, 0, -1, 1500.5, Number.NaN, '10000', null]) {
      assert.throws(
        () => new RedisExecutor({ connection: 'redis://127.0.0.1:1', queue: 'q', key: KEY, leaseMs: bad as never }),
        (err: unknown) => err instanceof RangeError && /^RedisExecutor: leaseMs must be an integer number of milliseconds >= 1000, got /.test(err.message),
        String(bad),
      );
    }
  });

  it('concur worker without a signing key is a usage error (exit 2) saying how to give one', async () => {
    const env = { ...process.env };
    delete env.CONCUR_KEY;
    delete env.CONCUR_KEY_FILE;
    const run = await runNode([BIN, 'worker', '--queue', 'q', '--tasks', REDIS_TASKS_JS], { cwd: REPO, env });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /concur: RedisWorker needs the signing key .*set CONCUR_KEY/);
  });
});
