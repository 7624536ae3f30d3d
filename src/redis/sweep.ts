/**
 * The executor's sweep: every pollInterval it reads the hashes of its jobs that no event
 * has settled for a while (the event stream is trimmed, a connection drops), so that no
 * result goes missing.
 */
import type { Redis } from 'ioredis';
import type { Entry } from './executor-types.js';
import { readRecords, type JobRecord } from './records.js';

/** Jobs read per tick at most, unless all are asked for. */
const SWEEP = 500;
/** Hashes read per trip. */
const READ = 500;

/**
 * The sent jobs due to be read, by job id (a pack's hash is read once for all its
 * members), with one of their Futures: oldest first (a Map keeps submission order), those
 * not read for `pollInterval` ms, at most SWEEP of them; or every one, when `all`. With
 * many jobs in flight the events deliver nearly every result, and reading every hash
 * each tick would cost Redis more than the jobs.
 */
export function dueForSweep(entries: Iterable<Entry>, pollInterval: number, all: boolean): Map<string, Entry> {
  const now = performance.now();
  const due = new Map<string, Entry>();
  for (const e of entries) {
    if (!all && due.size >= SWEEP) break;
    if (e.added && (all || now - e.checkedAt >= pollInterval)) {
      e.checkedAt = now;
      if (!due.has(e.jobId)) due.set(e.jobId, e);
    }
  }
  return due;
}

/**
 * Reads the hashes of the jobs `due` (`toKey` names them), READ a trip, and hands each
 * record read to `onRecord`; first, `onRan` is told of every job of the trip that has
 * started or finished, so that all their Futures are RUNNING before any settles (a done
 * callback of one could otherwise cancel another whose task ran).
 */
export async function sweepRecords(
  redis: Redis,
  toKey: (jobId: string) => string,
  due: ReadonlyMap<string, Entry>,
  onRan: (jobId: string, e: Entry) => void,
  onRecord: (jobId: string, e: Entry, r: JobRecord) => void,
): Promise<void> {
  const jobs = [...due.keys()];
  for (let i = 0; i < jobs.length; i += READ) {
    const batch = jobs.slice(i, i + READ);
    const records = await readRecords(redis, batch.map(toKey));
    batch.forEach((jobId, j) => {
      const kind = records[j]?.kind;
      if (kind === 'started' || kind === 'finished') onRan(jobId, due.get(jobId)!);
    });
    batch.forEach((jobId, j) => {
      const r = records[j];
      if (r !== undefined) onRecord(jobId, due.get(jobId)!, r);
    });
  }
}
