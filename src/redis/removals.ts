/**
 * The records of settled jobs leaving Redis (see RedisExecutor): once the executor has a
 * job's outcome, its hash and the rest have served, and Redis should come back to where
 * it was once the Futures are settled.
 *
 *   forget(id) ─▶ batch ─(every REMOVE_EVERY ms, one pipeline)─▶ BullMQ removeJob
 *                                                 refused (locked) ─▶ again, REMOVE_TRIES times
 *   withdrawn(id): a job withdrawn while it ran keeps its withdrawn mark until it is removed
 *
 * BullMQ's removeJob removes a job from every state with all its keys, and refuses one
 * still locked: a second run of an at-least-once job going on elsewhere keeps its records
 * until it ends. What is refused too often, or lost with Redis or with the executor, is
 * left to the backstop: BullMQ's age removal and the mark's TTL (`keepFinished`).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** Milliseconds between removals: one batch per period, not one trip per job. */
const REMOVE_EVERY = 50;
/** Tries to remove a job that is still locked before the age removal is left to do it. */
const REMOVE_TRIES = 5;

/** Removes settled jobs from Redis in batches, with the withdrawn marks of those that had one. */
export class Removals {
  readonly #queue: Queue;
  readonly #redis: Redis;
  readonly #markKey: (jobId: string) => string;
  /** Jobs to remove, with the tries made so far. */
  #due = new Map<string, number>();
  readonly #withdrawn = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(queue: Queue, redis: Redis, markKey: (jobId: string) => string) {
    this.#queue = queue;
    this.#redis = redis;
    this.#markKey = markKey;
  }

  /** The job's outcome is known: its records go with the next batch. */
  forget(jobId: string): void {
    if (this.#closed) return;
    if (!this.#due.has(jobId)) this.#due.set(jobId, 0);
    this.#arm(REMOVE_EVERY);
  }

  /** The job was withdrawn while it ran (its mark written): it is removed, with its mark, once it ends. */
  withdraw(jobId: string): void {
    this.#withdrawn.add(jobId);
  }

  /** The withdrawn job was removed before it ran: no end is awaited. */
  unwithdraw(jobId: string): void {
    this.#withdrawn.delete(jobId);
  }

  /** Whether the job's end is awaited to remove it (withdrawn while it ran). */
  withdrawn(jobId: string): boolean {
    return this.#withdrawn.has(jobId);
  }

  /** @internal How many jobs are still to be removed (for tests). */
  get due(): number {
    return this.#due.size;
  }

  /** Removes what is due now, and takes no more: a job refused now is left to the backstop. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#track(this.#remove());
    this.#closed = true;
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  #arm(ms: number): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#track(this.#remove());
    }, ms);
    this.#timer.unref();
  }

  #track(p: Promise<void>): void {
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
  }

  async #remove(): Promise<void> {
    const batch = this.#due;
    if (batch.size === 0) return;
    this.#due = new Map();
    const marks: string[] = [];
    const ids = [...batch.keys()];
    let replies: Array<[Error | null, unknown]> | null = null;
    try {
      // One pipeline of BullMQ's own removeJob (what Queue.remove runs, with the same
      // keys and arguments), not a trip and a promise per job.
      const backend = this.#queue.backend;
      const pipeline = (await backend.client).pipeline();
      const toKey = (name: string): string => this.#queue.toKey(name);
      for (const jobId of ids) backend.execCommand(pipeline, 'removeJob', [toKey(jobId), toKey('repeat'), jobId, 0, toKey('')]);
      replies = (await pipeline.exec()) as Array<[Error | null, unknown]> | null;
    } catch {
      // Redis failed us: the backstop removes them
    }
    ids.forEach((jobId, i) => {
      const reply = replies?.[i];
      const removed = reply === undefined || reply[0] !== null ? -1 : Number(reply[1]);
      const tries = batch.get(jobId)!;
      if (removed === 1) {
        if (this.#withdrawn.delete(jobId)) marks.push(this.#markKey(jobId));
      } else if (removed === 0 && tries + 1 < REMOVE_TRIES && !this.#closed) {
        this.#due.set(jobId, tries + 1);
      } else {
        this.#withdrawn.delete(jobId); // job and mark are left to the backstop
      }
    });
    // A mark goes only once its job has: a job that could still run keeps it.
    if (marks.length > 0) await this.#redis.del(...marks).catch(() => {});
    if (this.#due.size > 0) this.#arm(REMOVE_EVERY * 4);
  }
}
