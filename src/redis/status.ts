/** What `concur status` shows: a queue's job counts and the workers connected to it. */
import { Queue } from 'bullmq';
import { bullConnection, checkDatabase, checkQueueName, resolveConnection, type RedisConnection } from './connection.js';

/** A queue's state. */
export interface RedisQueueStatus {
  queue: string;
  /** Jobs per state: waiting, active, completed, failed, delayed, prioritized. */
  counts: Record<string, number>;
  /** The workers connected now, by name. */
  workers: string[];
}

/** Reads a queue's job counts and its connected workers. */
export async function redisQueueStatus(options: { connection?: RedisConnection; queue: string; prefix?: string }): Promise<RedisQueueStatus> {
  const queue = checkQueueName(options.queue, 'status');
  const connection = resolveConnection(options.connection, 'status');
  // One try per command: a status that cannot reach Redis says so, rather than waiting.
  const q = new Queue(queue, { connection: bullConnection(connection, { maxRetriesPerRequest: 1, retryStrategy: () => null }), prefix: options.prefix ?? 'bull' });
  q.on('error', () => {});
  try {
    await checkDatabase((await q.backend.client) as unknown as { select(db: number): Promise<unknown> }, connection, 'status');
    const counts = await q.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    // A worker's connection is named <prefix>:<queue in base64>:w:<worker name>.
    const workers = (await q.getWorkers()).map((w) => {
      const raw = String(w.rawname ?? '');
      const at = raw.indexOf(':w:');
      return at >= 0 ? raw.slice(at + 3) : String(w.addr ?? '?');
    });
    return { queue, counts, workers };
  } finally {
    await q.close().catch(() => {});
  }
}
