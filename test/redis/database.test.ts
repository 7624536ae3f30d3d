// A Redis URL naming a database index past the server's `databases` (redis://host:6379/99
// on a Redis with 16): ioredis's SELECT fails where nothing hears it and the connection
// stays on database 0, so an executor and a worker given different indexes would meet
// there (or miss each other). Each fails instead, naming the index.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { REPO, runNode } from '../fixtures/run-node.js';
import { KEY, REDIS_TASKS_JS, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/concur.js', import.meta.url));

/** The first index the test Redis has no database for (its `databases` setting; 16 when CONFIG is not allowed). */
async function pastTheLast(): Promise<number> {
  const client = new Redis(REDIS_URL);
  client.on('error', () => {});
  try {
    const answer = (await client.config('GET', 'databases').catch(() => [])) as string[];
    return answer.length === 2 ? Number(answer[1]) : 16;
  } finally {
    client.disconnect();
  }
}

describe('a database index past the server\'s last', { skip: skipReason }, async () => {
  const db = skipReason === undefined ? await pastTheLast() : 16;
  const url = new URL(REDIS_URL);
  url.pathname = `/${db}`;
  const connection = url.href;
  const SAYS = new RegExp(`no database ${db}\\b`);

  it('RedisExecutor: its Futures fail, naming the index', async () => {
    const ex = new RedisExecutor({ connection, queue: uniqueQueue('db-ex'), key: KEY });
    try {
      await assert.rejects(ex.submit(redisTasks.inc, 1).result(20_000), SAYS);
    } finally {
      await ex.shutdown({ cancelFutures: true });
    }
  });

  it('RedisWorker.start rejects, naming the index', async () => {
    const start = RedisWorker.start({ connection, queue: uniqueQueue('db-w'), key: KEY, tasks: [REDIS_TASKS_JS], pool: 'thread', workers: 1 }).then(async (w) => {
      await w.close();
      throw new Error('the worker started');
    });
    await assert.rejects(start, SAYS);
  });

  it('concur worker and concur status exit 2, naming the index', async () => {
    const env = { ...process.env, CONCUR_KEY: KEY };
    const worker = await runNode([BIN, 'worker', '--redis', connection, '--queue', uniqueQueue('db-cli'), '--tasks', REDIS_TASKS_JS, '--workers', '1', '--pool', 'thread'], { cwd: REPO, env, timeoutMs: 60_000 });
    assert.equal(worker.code, 2, worker.stderr);
    assert.match(worker.stderr, SAYS);
    assert.doesNotMatch(worker.stdout, /serving queue/);
    const status = await runNode([BIN, 'status', '--redis', connection, '--queue', 'jobs'], { cwd: REPO, env, timeoutMs: 60_000 });
    assert.equal(status.code, 2, status.stderr);
    assert.match(status.stderr, SAYS);
    assert.doesNotMatch(status.stdout, /waiting/);
  });
});
