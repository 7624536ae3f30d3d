/**
 * Reading what Redis holds of a job, for the executor's sweep (the jobs whose end no event
 * told of) and its events: the job's hash, and a completed job's signed result.
 */
import type { Redis } from 'ioredis';
import { readResult, type Outcome } from './wire.js';

/** What a job's hash says of it. */
export type JobRecord =
  | { readonly kind: 'gone' }
  | { readonly kind: 'finished'; readonly returnvalue: string | null; readonly failedReason: string | null }
  | { readonly kind: 'started' }
  | { readonly kind: 'waiting' };

/** Reads the hashes `keys` in one pipeline; undefined where a read failed. */
export async function readRecords(redis: Redis, keys: readonly string[]): Promise<Array<JobRecord | undefined>> {
  const pipe = redis.pipeline();
  // timestamp: BullMQ writes it as it adds the job, so a waiting job (none of the others
  // set yet) is told from a hash that is not there.
  for (const k of keys) pipe.hmget(k, 'finishedOn', 'returnvalue', 'failedReason', 'processedOn', 'timestamp');
  const replies = (await pipe.exec()) ?? [];
  return keys.map((_, j) => {
    const [err, fields] = replies[j] ?? [new Error('no reply'), null];
    if (err || !Array.isArray(fields)) return undefined;
    const [finishedOn, returnvalue, failedReason, processedOn, timestamp] = fields as Array<string | null>;
    // No hash at all: removed by someone else, or expired unread.
    if (finishedOn === null && returnvalue === null && failedReason === null && processedOn === null && timestamp === null) return { kind: 'gone' };
    if (finishedOn !== null) return { kind: 'finished', returnvalue, failedReason };
    return processedOn !== null ? { kind: 'started' } : { kind: 'waiting' };
  });
}

/** The outcome of a completed job from its returnvalue (JSON text), its signature checked. */
export function completedOutcome(key: Buffer, queue: string, jobId: string, returnvalue: string | undefined, task: string): Outcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(returnvalue ?? 'null');
  } catch {
    parsed = undefined;
  }
  return readResult(key, queue, jobId, parsed, task);
}
