/** Where Redis is: a URL or ioredis options, with REDIS_URL and then the local default. */
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { describe } from '../futures/future.js';

/** A Redis to connect to: a URL (redis://, rediss://) or ioredis options. */
export type RedisConnection = string | RedisOptions;

/** The default Redis: $REDIS_URL, else redis://127.0.0.1:6379. */
export function defaultRedisUrl(): string {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

/** Checks a connection option and fills in the default. */
export function resolveConnection(connection: unknown, who: string): RedisConnection {
  if (connection === undefined) return defaultRedisUrl();
  if (typeof connection === 'string') {
    if (!/^rediss?:\/\//.test(connection)) throw new TypeError(`${who}: connection must be a redis:// or rediss:// URL or ioredis options, got ${describe(connection)}`);
    let url: URL;
    try {
      url = new URL(connection);
    } catch {
      throw new TypeError(`${who}: connection ${JSON.stringify(hidePassword(connection))} is not a valid URL (redis://[user:password@]host[:port][/db])`);
    }
    checkDatabaseIndex(urlDatabase(url), who);
    return connection;
  }
  if (connection === null || typeof connection !== 'object') {
    throw new TypeError(`${who}: connection must be a redis:// URL or ioredis options, got ${describe(connection)}`);
  }
  const db = (connection as RedisOptions).db;
  if (db !== undefined) checkDatabaseIndex(db, who);
  return connection as RedisOptions;
}

/** The database index a URL names, as written: its path, else its `?db=`; undefined when none. */
const urlDatabase = (url: URL): string | undefined => (url.pathname.length > 1 ? url.pathname.slice(1) : (url.searchParams.get('db') ?? undefined));

/** A URL with its password masked, for messages. */
const hidePassword = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

/**
 * Refuses a database index that is no index (ioredis would send `SELECT NaN`, which fails
 * where nothing hears it, and use database 0).
 */
function checkDatabaseIndex(db: unknown, who: string): void {
  if (db === undefined) return;
  const ok = typeof db === 'number' ? Number.isSafeInteger(db) && db >= 0 : typeof db === 'string' && /^\d+$/.test(db);
  if (!ok) throw new TypeError(`${who}: the connection's database index must be a non-negative integer, got ${typeof db === 'string' ? JSON.stringify(db) : describe(db)}`);
}

/** The database index `connection` names (its URL's path, else its `?db=`, or its `db` option); 0 when none. */
export function databaseOf(connection: RedisConnection): number {
  if (typeof connection !== 'string') return Number(connection.db ?? 0);
  return Number(urlDatabase(new URL(connection)) ?? 0);
}

/**
 * Makes sure `client` (a client of `connection`, not subscribed) uses the database it
 * names: a Redis refuses an index past its `databases` (16 by default), and ioredis, which
 * selects it on connecting, leaves the refusal unheard and the connection on database 0,
 * where executors and workers given other indexes would meet. Throws a RangeError naming
 * the index; other failures are left to the commands that follow.
 */
export async function checkDatabase(client: { select(db: number): Promise<unknown> }, connection: RedisConnection, who: string): Promise<void> {
  const db = databaseOf(connection);
  if (db === 0) return;
  try {
    await client.select(db);
  } catch (err) {
    const message = (err as Error).message;
    if (!/DB index|database/i.test(message)) return;
    throw new RangeError(
      `${who}: the Redis at ${showConnection(connection)} has no database ${db} (it answered "${message}"); ` +
        `its indexes go from 0 to its databases setting less one (16 databases by default)`,
    );
  }
}

/** BullMQ's form of a connection (it takes a URL as `{ url }`), with its options added. */
export function bullConnection(connection: RedisConnection, extra: RedisOptions = {}): ConnectionOptions {
  return (typeof connection === 'string' ? { url: connection, ...extra } : { ...connection, ...extra }) as ConnectionOptions;
}

/** A connection shown in messages, without its password. */
export function showConnection(connection: RedisConnection): string {
  if (typeof connection === 'string') {
    try {
      const u = new URL(connection);
      if (u.password) u.password = '***';
      return u.href;
    } catch {
      return 'redis';
    }
  }
  return `redis://${connection.host ?? '127.0.0.1'}:${connection.port ?? 6379}`;
}

/** Checks a queue name: BullMQ keys use ':' as a separator, so the name must not hold one. */
export function checkQueueName(queue: unknown, who: string): string {
  if (typeof queue !== 'string' || queue === '' || queue.includes(':')) {
    throw new TypeError(`${who}: queue must be a non-empty name without ':', got ${describe(queue)}`);
  }
  return queue;
}

/** A client of its own to `connection`; its errors are left to ioredis, which reconnects and makes commands wait. */
export function newClient(connection: RedisConnection): Redis {
  const client = typeof connection === 'string' ? new Redis(connection) : new Redis(connection);
  client.on('error', () => {});
  return client;
}

/** Resolves once `redis` is not ready (now, or when it drops); `cancel` stops listening. */
export function untilOffline(redis: Redis): { promise: Promise<void>; cancel: () => void } {
  let done: () => void = () => {};
  const promise = new Promise<void>((resolve) => (done = resolve));
  const onDrop = (): void => done();
  const cancel = (): void => {
    redis.off('close', onDrop);
    redis.off('end', onDrop);
  };
  if (redis.status !== 'ready') done();
  else {
    redis.on('close', onDrop);
    redis.on('end', onDrop);
  }
  return { promise, cancel };
}
