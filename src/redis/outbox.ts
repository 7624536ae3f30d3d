/**
 * Jobs on their way from a RedisExecutor to its queue: the submissions of one turn of the
 * caller's code go together, BULK jobs per addBulk (a lone one by add), Futures of tasks
 * known to be tiny in packs (packs.ts), and none while the executor's lease does not
 * hold (a worker that found no lease would start a job whose Future is PENDING here).
 */
import type { Queue } from 'bullmq';
import type { Lease } from './lease.js';
import { HOLD_MS, makePack, PACK_MAX, planPacks, PROBE, SPREAD, type TaskTimes } from './packs.js';
import { SENT, type Entry } from './executor-types.js';
import { makeJob, type Outcome } from './wire.js';

/** Jobs per addBulk: one trip to Redis each. */
export const BULK = 500;

/** What an Outbox needs of its executor. */
export interface OutboxHost {
  readonly queue: Queue;
  readonly lease: Lease;
  /** Nothing goes before it (the executor listens to the events by then). */
  readonly ready: Promise<void>;
  /** The signing key. */
  readonly key: Buffer;
  /** Seconds a finished job stays at most (BullMQ's age removal). */
  readonly keepFinished: number;
  readonly times: TaskTimes;
  /** The packs sent, by job id: a pack's members join it as it goes. */
  readonly packs: Map<string, Entry[]>;
  /** A new job id of the executor's. */
  newId(): string;
  /** A Future whose job could not go: its pack, if any, is forgotten. */
  unsent(e: Entry): void;
  /** Settles a Future whose job could not go. */
  settle(e: Entry, outcome: Outcome): void;
  /** Tracks work in flight, for shutdown. */
  chore(p: Promise<unknown>): void;
}

/** A job on its way to the queue, with the Futures it carries. */
interface OutgoingJob {
  readonly name: string;
  readonly data: unknown;
  readonly opts: Record<string, unknown>;
  readonly entries: readonly Entry[];
}

/** Whether Redis answered a command with an error (it refused it), rather than not answering. */
function refused(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

/** Sends jobs to a BullMQ queue in batches, in submission order. */
export class Outbox {
  readonly #host: OutboxHost;
  #entries: Entry[] = [];
  #flushing = false;
  /** Wakes a #flush that holds a backlog back until its task's probes are timed. */
  #onTimed: (() => void) | undefined;

  /** Sends for `host`. */
  constructor(host: OutboxHost) {
    this.#host = host;
  }

  /** A task's time was learned: a backlog held for it is planned again. */
  timed(): void {
    const wake = this.#onTimed;
    this.#onTimed = undefined;
    wake?.();
  }

  /** Puts `e` in the outbox, to go in the next batch. */
  push(e: Entry): void {
    this.#entries.push(e);
    if (!this.#flushing) {
      // A microtask, not a later turn of the event loop: the submissions of this turn's
      // code still go in one batch, and a lone job goes out at once. While a batch is on
      // its way, later submissions wait here for the next one.
      this.#flushing = true;
      queueMicrotask(() => this.#host.chore(this.#flush()));
    }
  }

  /** Sends the outbox, BULK jobs per trip, in submission order. */
  async #flush(): Promise<void> {
    try {
      await this.#host.ready;
    } catch (err) {
      for (const e of this.#entries.splice(0)) this.#host.settle(e, { ok: false, error: err });
    }
    while (this.#entries.length > 0) {
      if (!this.#host.lease.holds()) {
        // A job sent now could reach a worker that finds no lease and starts it, its
        // Future PENDING here: it waits for a renewal, or for every Future to be done (a
        // shutdown that cancelled them must not wait for Redis).
        await this.#host.lease.wait();
        this.#entries = this.#entries.filter((e) => !e.future.done());
        continue;
      }
      // Planned over enough of the outbox for BULK full packs; what does not go in this
      // trip goes back to its head.
      const held: Entry[] = [];
      const window = this.#probeFirst(this.#entries.splice(0, BULK * PACK_MAX).filter((e) => !e.future.done()), held);
      if (held.length > 0) this.#entries = held.concat(this.#entries);
      if (window.length === 0) {
        if (held.length > 0) await this.#untilTimed();
        continue;
      }
      const plan = planPacks(window, (e) => e.packable && this.#host.times.tiny(e.times));
      if (plan.length > BULK) this.#entries = plan.slice(BULK).flatMap((p) => ('pack' in p ? p.pack : [p.single])).concat(this.#entries);
      const jobs = plan.slice(0, BULK).map((p) => ('pack' in p ? this.#packJob(p.pack) : this.#singleJob(p.single)));
      try {
        // A lone job goes by add: addBulk's ioredis pipeline costs more to build (a copy of
        // every BullMQ script command) than it saves on one job.
        if (jobs.length === 1) await this.#add(jobs[0]!);
        else await this.#host.queue.addBulk(jobs as Parameters<Queue['addBulk']>[0]);
        for (const job of jobs) for (const e of job.entries) e.added = true;
      } catch (err) {
        if (jobs.length > 1 && refused(err)) {
          // addBulk is a pipeline, failed by its first refusal: Redis may have refused one
          // job (one larger than its proto-max-bulk-len, say) and taken the rest, or some
          // (out of memory from one on). Each goes again alone, so that only a job Redis
          // refuses fails; one it took already is not added twice (its id is ours).
          for (const job of jobs) {
            // Settled meanwhile (it ran, or was cancelled: its withdrawal sees to its job);
            // a pack of them is forgotten, as one that never went.
            if (job.entries.every((e) => e.future.done())) {
              for (const e of job.entries) this.#host.unsent(e);
              continue;
            }
            try {
              await this.#add(job);
              for (const e of job.entries) e.added = true;
            } catch (alone) {
              this.#unsent(job, alone);
            }
          }
        } else for (const job of jobs) this.#unsent(job, err);
      }
    }
    this.#flushing = false;
  }

  /** Adds one job; Redis refusing it is an error naming the job and its size. */
  async #add(job: OutgoingJob): Promise<void> {
    try {
      await this.#host.queue.add(job.name, job.data, job.opts);
    } catch (err) {
      if (!refused(err)) throw err;
      const what = job.entries.length === 1 ? `job ${job.entries[0]!.id} (${job.entries[0]!.task})` : `job ${String(job.opts.jobId)} (${job.name})`;
      let size: string;
      try {
        size = `${Buffer.byteLength(JSON.stringify(job.data))} bytes`;
      } catch {
        size = 'too large to measure'; // longer than a string can be
      }
      throw new Error(`${what} was refused by Redis: ${(err as Error).message} (its data is ${size} as JSON)`, { cause: err });
    }
  }

  /** The Futures of `job`, which did not get to Redis, fail with `error`. */
  #unsent(job: OutgoingJob, error: unknown): void {
    for (const e of job.entries) {
      this.#host.settle(e, { ok: false, error });
      this.#host.unsent(e);
    }
  }

  /**
   * `window` less what waits for its task to be timed (see packs.ts), which goes to
   * `held`: of a backlog of a task not yet timed, PROBE go first and the rest waits.
   */
  #probeFirst(window: Entry[], held: Entry[]): Entry[] {
    let counts: Map<string, number> | undefined;
    for (const e of window) {
      if (!e.packable || this.#host.times.tiny(e.times)) continue;
      counts ??= new Map();
      counts.set(e.times, (counts.get(e.times) ?? 0) + 1);
    }
    if (counts === undefined) return window;
    const now = performance.now();
    const plan = new Map<string, number>(); // how many of the task go now
    for (const [task, n] of counts) {
      if (n < 2 * SPREAD) continue;
      const step = this.#host.times.backlog(task, now);
      if (step !== 'send') plan.set(task, step === 'probe' ? PROBE : 0);
    }
    if (plan.size === 0) return window;
    return window.filter((e) => {
      const left = e.packable ? plan.get(e.times) : undefined;
      if (left === undefined) return true;
      if (left > 0) {
        plan.set(e.times, left - 1);
        return true;
      }
      held.push(e);
      return false;
    });
  }

  /** Resolves when a task's time is learned, or soon (a hold ends by HOLD_MS at the latest). */
  #untilTimed(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(5, HOLD_MS / 8));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#onTimed = done;
    });
  }

  /** The job of one Future, signed. */
  #singleJob(e: Entry): OutgoingJob {
    const job = e.job!;
    e.job = undefined;
    e.state = SENT;
    return { name: job.task.name, data: makeJob(this.#host.key, this.#host.queue.name, e.id, job.task, job.mode, job.args, job.timeout), opts: job.opts, entries: [e] };
  }

  /** The job of a pack of Futures, signed. */
  #packJob(members: Entry[]): OutgoingJob {
    const packId = this.#host.newId();
    const requests = members.map((e) => {
      const job = e.job!;
      e.state = SENT;
      e.jobId = packId;
      return { id: e.id, task: job.task, mode: job.mode, args: job.args };
    });
    this.#host.packs.set(packId, members);
    return {
      name: `pack of ${members.length}`,
      data: makePack(this.#host.key, this.#host.queue.name, packId, requests),
      opts: { jobId: packId, attempts: 1, removeOnComplete: { age: this.#host.keepFinished }, removeOnFail: { age: this.#host.keepFinished } },
      entries: members,
    };
  }
}
