// An executor or a worker whose Redis never answers (a wrong port, Redis down): its shutdown, or its close, still ends.
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RedisExecutor } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { REPO, startNode } from '../fixtures/run-node.js';
import { freePort, KEY, obliterate, REDIS_TASKS_JS, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

/** Fails with `what` when `p` has not settled within `ms`, so a hang fails the test instead of the run. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

it('shutdown({ cancelFutures: true }) of an executor that never reached Redis cancels its Futures and ends', async () => {
  const ex = new RedisExecutor({ connection: `redis://127.0.0.1:${await freePort()}`, queue: 'never-reached', key: KEY });
  const f = ex.submit(redisTasks.inc, 1);
  await within(ex.shutdown({ cancelFutures: true }), 10_000, 'the shutdown');
  assert.equal(f.cancelled(), true);
});

it('shutdown({ wait: false }) of an executor that never reached Redis ends', async () => {
  const ex = new RedisExecutor({ connection: `redis://127.0.0.1:${await freePort()}`, queue: 'never-reached', key: KEY });
  await within(ex.shutdown({ wait: false, cancelFutures: true }), 10_000, 'the shutdown');
});

/** A proxy to Redis that can be shut, connections and all: Redis, as its clients see it, goes away. */
async function closableProxy(): Promise<{ url: string; shut: () => Promise<void> }> {
  const redis = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(Number(redis.port || 6379), redis.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}${redis.pathname}`,
    shut: () =>
      new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

describe('an executor whose Redis goes away', { skip: skipReason }, () => {
  it('shutdown({ cancelFutures: true }) ends once Redis is gone for good, though it was there before', async () => {
    const proxy = await closableProxy();
    const queue = uniqueQueue('gone');
    const ex = new RedisExecutor({ connection: proxy.url, queue, key: KEY });
    try {
      const sent = ex.submit(redisTasks.inc, 1); // no worker: it waits in Redis
      await new Promise<void>((resolve) => {
        const check = (): void => void (ex.stats().waiting === 1 ? resolve() : setTimeout(check, 10));
        check();
      });
      await proxy.shut();
      await within(ex.shutdown({ cancelFutures: true }), 10_000, 'the shutdown');
      assert.equal(sent.cancelled(), true);
    } finally {
      await obliterate(queue);
    }
  });
});

describe('a worker whose Redis goes away', { skip: skipReason }, () => {
  it('concur worker, told to stop, exits once --close-timeout has passed, though Redis is gone for good', async () => {
    const proxy = await closableProxy();
    const queue = uniqueQueue('worker-gone');
    const BIN = fileURLToPath(new URL('../../bin/concur.js', import.meta.url));
    const w = startNode([BIN, 'worker', '--queue', queue, '--tasks', REDIS_TASKS_JS, '--pool', 'async', '--workers', '1', '--close-timeout', '1000'], {
      cwd: REPO,
      env: { ...process.env, CONCUR_KEY: KEY, REDIS_URL: proxy.url },
      timeoutMs: 60_000,
    });
    try {
      await w.waitFor(/serving queue/);
      await proxy.shut();
      // Gone for a while: its clients wait between tries to reconnect (as they mostly do
      // in an outage), rather than being told of the drop.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      process.kill(w.pid, 'SIGTERM');
      // BullMQ's graceful close waits for Redis (its QUIT never goes out), so the close goes
      // past the timeout; then the worker cuts its connections, which must not wait for Redis either.
      assert.deepEqual(await within(w.exited, 20_000, 'the exit'), { code: 0, signal: null }, JSON.stringify(w.output()));
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

describe('a RedisWorker embedded in a program, whose Redis goes away', { skip: skipReason }, () => {
  const PROGRAM = fileURLToPath(new URL('../fixtures/embedded-worker.mjs', import.meta.url));
  for (const gone of [false, true]) {
    it(`close() ends, and the program then ends by itself${gone ? ', though Redis is gone for good' : ''}`, async () => {
      const proxy = await closableProxy();
      const queue = uniqueQueue('embedded');
      const p = startNode([PROGRAM, REDIS_TASKS_JS], { cwd: REPO, env: { ...process.env, CONCUR_KEY: KEY, REDIS_URL: proxy.url, QUEUE: queue }, timeoutMs: 60_000 });
      try {
        await p.waitFor(/serving/);
        if (gone) {
          await proxy.shut();
          // Gone for a while: the clients wait between tries to reconnect.
          await new Promise((resolve) => setTimeout(resolve, 1500));
        }
        process.kill(p.pid, 'SIGUSR2');
        await within(p.waitFor(/closed/), 20_000, 'the close');
        assert.deepEqual(await within(p.exited, 10_000, 'the end of the program after close()'), { code: 0, signal: null }, JSON.stringify(p.output()));
      } finally {
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // gone
        }
        await proxy.shut();
        await obliterate(queue);
      }
    });
  }
});
