/**
 * The records of settled jobs leaving Redis (see RedisExecutor): once the executor has a
 * job's outcome, its hash and the rest have served, and Redis should come back to where
 * it was once the Futures are settled.
 *
 *   forget(id) ─▶ batch ─(every REMOVE_EVERY ms)─▶ our script, SCRIPT_IDS ids a call ─▶ gone
 *                                         not finished ─▶ BullMQ's removeJob, one pipeline ─▶ gone
 *                                 refused (locked) ─▶ again, REMOVE_TRIES times
 *   withdrawn(id): a job withdrawn while it ran keeps its withdrawn mark until it is removed
 *
 * A finished job (in the completed or failed set) goes by a script of ours that deletes
 * what BullMQ's removeJob would, and writes no 'removed' event: every executor on the
 * queue reads the event stream, and one entry per job was a sixth of what they read,
 * for an end no one waits on. Any other job (one that went back to the queue, or was
 * never run) goes by BullMQ's removeJob, which finds it in whatever list holds it. Both
 * refuse a job still locked: a second run of an at-least-once job going on elsewhere
 * keeps its records until it ends. What is refused too often, or lost with Redis or with
 * the executor, is left to the backstop: BullMQ's age removal and the mark's TTL
 * (`keepFinished`).
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** Milliseconds between removals: one batch per period, not one trip per job. */
const REMOVE_EVERY = 50;
/** Tries to remove a job that is still locked before the age removal is left to do it. */
const REMOVE_TRIES = 5;
/**
 * Milliseconds a shutdown waits for the jobs it withdrew while they ran to end (a worker
 * stops an aborted task within about 100 ms), so that they go with it rather than wait
 * for the backstop; a worker that died holding one leaves it to the backstop.
 */
const WITHDRAWN_WAIT = 3000;
/** Job ids per call of the script: Redis runs nothing else while it runs. */
const SCRIPT_IDS = 500;

/**
 * ARGV[1] the queue's key prefix (`bull:<queue>:`), ARGV[2..] job ids. Per id: 1 removed
 * (or already gone), 0 locked, 2 not finished (the caller leaves it to removeJob). The
 * keys deleted are removeJob's (removeJobKeys.lua); a job of ours has no parent, children,
 * deduplication id or scheduler, the rest of what removeJob looks after.
 */
const REMOVE_FINISHED = `
local rcall = redis.call
local prefix = ARGV[1]
local completed, failed = prefix .. 'completed', prefix .. 'failed'
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local jobKey = prefix .. id
  if rcall('EXISTS', jobKey .. ':lock') == 1 then
    out[i - 1] = 0
  elseif rcall('ZREM', completed, id) + rcall('ZREM', failed, id) > 0 or rcall('EXISTS', jobKey) == 0 then
    rcall('DEL', jobKey, jobKey .. ':logs', jobKey .. ':dependencies', jobKey .. ':processed', jobKey .. ':failed', jobKey .. ':unsuccessful')
    out[i - 1] = 1
  else
    out[i - 1] = 2
  end
end
return out
`;
const REMOVE_FINISHED_SHA = createHash('sha1').update(REMOVE_FINISHED).digest('hex');

/** How a running job is withdrawn: the channel its worker hears the abort on, and how long its mark lives. */
export interface Withdrawal {
  readonly abortChannel: string;
  readonly markSeconds: number;
}

/** Removes settled jobs from Redis in batches, with the withdrawn marks of those that had one. */
export class Removals {
  readonly #queue: Queue;
  readonly #redis: Redis;
  readonly #markKey: (jobId: string) => string;
  readonly #withdrawal: Withdrawal | undefined;
  /** Jobs to remove, with the tries made so far. */
  #due = new Map<string, number>();
  readonly #withdrawn = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #running = new Set<Promise<void>>();
  #closed = false;
  /** Wakes a close() waiting for withdrawn jobs to go. */
  #onGone: (() => void) | undefined;

  /** `markKey` names a job's withdrawn mark; `withdrawal` is what withdrawJob needs. */
  constructor(queue: Queue, redis: Redis, markKey: (jobId: string) => string, withdrawal?: Withdrawal) {
    this.#queue = queue;
    this.#redis = redis;
    this.#markKey = markKey;
    this.#withdrawal = withdrawal;
  }

  /**
   * Removes a job whose Future is done before its end: a waiting one at once (true); one
   * that runs (locked) is marked withdrawn and told to stop through the abort channel,
   * and goes, with its mark, once it ends.
   */
  async withdrawJob(jobId: string): Promise<boolean> {
    // Its end is awaited from now: an end that comes while the removal is refused is not missed.
    this.withdraw(jobId);
    let removed = 0;
    try {
      removed = await this.#queue.remove(jobId);
    } catch {
      removed = 0;
    }
    if (removed === 1) {
      this.unwithdraw(jobId);
      return true;
    }
    const { abortChannel, markSeconds } = this.#withdrawal!;
    try {
      // Written down before it is said, in one write: a worker that misses the abort and
      // then finds us gone reads it before it starts the task.
      const replies = await this.#redis.pipeline().set(this.#markKey(jobId), '1', 'EX', markSeconds).publish(abortChannel, jobId).exec();
      for (const [err] of replies ?? []) if (err) throw err;
    } catch {
      // Redis is gone: the job's result, when it comes, is for a Future already done
    }
    return false;
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

  /**
   * Waits (up to WITHDRAWN_WAIT) for the jobs withdrawn while they ran to end and go;
   * then removes what is due now, and takes no more: a job refused now is left to the
   * backstop. The executor's events must still be read meanwhile (they say a job ended).
   */
  async close(): Promise<void> {
    const deadline = performance.now() + WITHDRAWN_WAIT;
    while (this.#withdrawn.size > 0 && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, deadline - performance.now());
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#onGone = done;
      });
      this.#onGone = undefined;
    }
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
    const ids = [...batch.keys()];
    const results = new Map<string, number>();
    await this.#removeFinished(ids, results);
    const unfinished = ids.filter((id) => results.get(id) === 2);
    if (unfinished.length > 0) await this.#removeUnfinished(unfinished, results);
    const marks: string[] = [];
    for (const jobId of ids) {
      const removed = results.get(jobId) ?? -1;
      const tries = batch.get(jobId)!;
      if (removed === 1) {
        if (this.#withdrawn.delete(jobId)) marks.push(this.#markKey(jobId));
      } else if (removed === 0 && tries + 1 < REMOVE_TRIES && !this.#closed) {
        this.#due.set(jobId, tries + 1);
      } else {
        this.#withdrawn.delete(jobId); // job and mark are left to the backstop
      }
    }
    // A mark goes only once its job has: a job that could still run keeps it.
    if (marks.length > 0) await this.#redis.del(...marks).catch(() => {});
    if (this.#due.size > 0) this.#arm(REMOVE_EVERY * 4);
    this.#onGone?.();
  }

  /** The script above, SCRIPT_IDS ids a call; no reply for ids whose call failed. */
  async #removeFinished(ids: readonly string[], results: Map<string, number>): Promise<void> {
    const prefix = this.#queue.toKey('');
    const calls: Array<Promise<void>> = [];
    for (let i = 0; i < ids.length; i += SCRIPT_IDS) {
      const chunk = ids.slice(i, i + SCRIPT_IDS);
      calls.push(
        this.#script(prefix, chunk).then(
          (replies) => chunk.forEach((id, j) => results.set(id, Number(replies[j]))),
          () => {}, // Redis failed us: the backstop removes them
        ),
      );
    }
    await Promise.all(calls);
  }

  /** EVALSHA, then EVAL once if Redis does not have the script (not in a pipeline: ioredis would send the source with every one). */
  async #script(prefix: string, ids: readonly string[]): Promise<unknown[]> {
    try {
      return (await this.#redis.evalsha(REMOVE_FINISHED_SHA, 0, prefix, ...ids)) as unknown[];
    } catch (err) {
      if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
      return (await this.#redis.eval(REMOVE_FINISHED, 0, prefix, ...ids)) as unknown[];
    }
  }

  /** BullMQ's own removeJob (what Queue.remove runs, with the same keys and arguments), in one pipeline. */
  async #removeUnfinished(ids: readonly string[], results: Map<string, number>): Promise<void> {
    if (ids.length === 0) return;
    try {
      const backend = this.#queue.backend;
      const pipeline = (await backend.client).pipeline();
      const toKey = (name: string): string => this.#queue.toKey(name);
      for (const jobId of ids) backend.execCommand(pipeline, 'removeJob', [toKey(jobId), toKey('repeat'), jobId, 0, toKey('')]);
      const replies = (await pipeline.exec()) as Array<[Error | null, unknown]> | null;
      ids.forEach((id, i) => {
        const reply = replies?.[i];
        if (reply !== undefined && reply[0] === null) results.set(id, Number(reply[1]));
      });
    } catch {
      // Redis failed us: the backstop removes them
    }
  }
}
