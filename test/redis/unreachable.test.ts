// An executor whose Redis never answers (a wrong port, Redis down): its shutdown still ends.
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { RedisExecutor } from '../../src/redis/index.js';
import { redisTasks } from '../fixtures/redis-tasks.mjs';
import { KEY, obliterate, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

/** A port on 127.0.0.1 that nothing listens on (it did a moment ago, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Fails with `what` when `p` has not settled within `ms`, so a hang fails the test instead of the run. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

it('shutdown({ cancelFutures: true }) of an executor that never reached Redis cancels its Futures and ends', async () => {
  const ex = new RedisExecutor({ connection: `redis://127.0.0.1:${await deadPort()}`, queue: 'never-reached', key: KEY });
  const f = ex.submit(redisTasks.inc, 1);
  await within(ex.shutdown({ cancelFutures: true }), 10_000, 'the shutdown');
  assert.equal(f.cancelled(), true);
});

it('shutdown({ wait: false }) of an executor that never reached Redis ends', async () => {
  const ex = new RedisExecutor({ connection: `redis://127.0.0.1:${await deadPort()}`, queue: 'never-reached', key: KEY });
  await within(ex.shutdown({ wait: false, cancelFutures: true }), 10_000, 'the shutdown');
});

describe('an executor whose Redis goes away', { skip: skipReason }, () => {
  it('shutdown({ cancelFutures: true }) ends once Redis is gone for good, though it was there before', async () => {
    // A proxy to Redis that can be shut, connections and all: Redis, as the executor sees it, goes away.
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
    const queue = uniqueQueue('gone');
    const ex = new RedisExecutor({ connection: `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}${redis.pathname}`, queue, key: KEY });
    try {
      const sent = ex.submit(redisTasks.inc, 1); // no worker: it waits in Redis
      await new Promise<void>((resolve) => {
        const check = (): void => void (ex.stats().waiting === 1 ? resolve() : setTimeout(check, 10));
        check();
      });
      await new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await within(ex.shutdown({ cancelFutures: true }), 10_000, 'the shutdown');
      assert.equal(sent.cancelled(), true);
    } finally {
      await obliterate(queue);
    }
  });
});
