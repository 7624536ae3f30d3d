/**
 * The executor's sweep: every pollInterval it reads the hashes of its jobs that no event
 * has settled for a while (the event stream is trimmed, a connection drops), so that no
 * result goes missing.
 */
import type { Redis } from 'ioredis';
import type { Entry } from './executor-types.js';
import type { PackBook } from './pack-book.js';
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

/** What a Sweeper needs of its executor. */
export interface SweepHost {
  readonly redis: Redis;
  /** The key of a job's hash. */
  toKey(jobId: string): string;
  /** The Futures not done, by id. */
  readonly pending: ReadonlyMap<string, Entry>;
  packs(): PackBook;
  /** The Future `id`'s task has started. */
  onActive(id: string): void;
  /** The job of `e` alone ended: `value` is its returnvalue when `completed`, else its failedReason. */
  ended(e: Entry, completed: boolean, value: string | undefined): void;
  /** The job `jobId` (of `e`, or of its pack) is not in Redis. */
  gone(jobId: string, e: Entry): void;
}

/** Reads, every `pollInterval` ms, the hashes of the sent jobs no event has settled for a while. */
export class Sweeper {
  readonly #pollInterval: number;
  readonly #host: SweepHost;
  readonly #timer: ReturnType<typeof setInterval>;
  #sweeping = false;

  constructor(pollInterval: number, host: SweepHost) {
    this.#pollInterval = pollInterval;
    this.#host = host;
    this.#timer = setInterval(() => void this.sweep(), pollInterval);
    this.#timer.unref();
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reads the jobs due, or, when `all`, every job sent and not settled (back after a dropped connection). */
  async sweep(all = false): Promise<void> {
    const host = this.#host;
    if (this.#sweeping || host.pending.size === 0) return;
    this.#sweeping = true;
    try {
      const due = dueForSweep(host.pending.values(), this.#pollInterval, all);
      // A member whose pack ended while this read was on its way may have gone again alone.
      const current = (jobId: string, e: Entry): Entry[] | undefined => {
        const pack = host.packs().get(jobId);
        return pack ?? (e.jobId === jobId && host.pending.has(e.id) ? [e] : undefined);
      };
      const ran = (jobId: string, e: Entry): void => {
        for (const m of current(jobId, e) ?? []) host.onActive(m.id);
      };
      await sweepRecords(host.redis, host.toKey, due, ran, (jobId, e, r) => {
        if (current(jobId, e) === undefined) return;
        // Refused or unanswered (Redis busy with a long script, a dropped link), the look
        // was an unhandled rejection, which ends the process; the next sweep reads the job again.
        if (r.kind === 'gone') this.#confirmGone(jobId, e).catch(() => {});
        else if (r.kind === 'finished') {
          const completed = r.returnvalue !== null && r.returnvalue !== 'null';
          const value = completed ? r.returnvalue! : (r.failedReason ?? undefined);
          const pack = host.packs().get(jobId);
          if (pack !== undefined) host.packs().ended(jobId, pack, completed ? value : undefined, completed ? undefined : (value ?? 'unknown'));
          else host.ended(e, completed, value);
        }
      });
    } catch {
      // Redis unreachable: the next sweep tries again
    } finally {
      this.#sweeping = false;
    }
  }

  /** A hash read as missing may be on its way still: asked once more before its Futures fail. */
  async #confirmGone(jobId: string, e: Entry): Promise<void> {
    if ((await this.#host.redis.exists(this.#host.toKey(jobId))) !== 0) return;
    this.#host.gone(jobId, e);
  }
}
