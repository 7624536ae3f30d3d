/**
 * The worker's side of "RUNNING before the task starts": a worker starts a job's task
 * only once the job's executor says go.
 *
 *   moveToActive ── XADD events 'active' ──▶ executor: Future RUNNING, then
 *                                            PUBLISH concur-go "jobId" (go) or "!jobId" (no)
 *   BullMQ 'active' ─▶ announce(job) ─▶ #process ─▶ answerOf(job) ─▶ go: the task starts;
 *                                                                  no: the job fails, never started
 *   no answer after 50 ms ─▶ EXISTS concur-lease:<executor> (one per executor, and one
 *                            write, for every job that waited that long by this tick)
 *   none after a further second ─▶ PUBLISH concur-started:<executor> "jobId again"
 *                                  (answer this) + EXISTS, every second
 *   lease gone ─▶ go on (unless the job was written down as withdrawn)
 *
 * The executor sets RUNNING before it answers, so whatever reaches the submitting process
 * from a started task (a socket, a file, another job) comes after the Future is RUNNING,
 * however its connections are scheduled. The executor answers as it reads the queue's
 * 'active' event, which BullMQ writes as it hands the job over: the answer's way overlaps
 * the worker's, and a worker sends nothing while answers come in time (and, when they are
 * late, as under load, one question per executor a tick, not one per job). Streams are
 * trimmed and pub/sub forgets what a dropped connection missed: hence "again".
 *
 * Whether anyone heard an announcement says nothing a worker can trust: an executor cut
 * off from Redis hears nothing yet lives (its Future PENDING), and a dead machine's
 * connection still counts as a listener until Redis drops it (tcp-keepalive: minutes).
 * So a worker goes on without an answer only when the executor's lease is gone: the key
 * the executor renews while its subscriber and command connections both answer, and
 * deletes when it shuts down. The executor sets RUNNING, by its own clock, every Future
 * whose job may be held before Redis can expire its lease (see RedisExecutor). Once the
 * lease is gone, a round trip on the subscriber connection first brings in every abort
 * Redis took before, and a job the executor wrote down as withdrawn (its abort missed
 * here, with a dropped connection) does not start.
 */
import type { Redis } from 'ioredis';
import { executorOf, leaseKey, startedChannel, withdrawnKey } from './events.js';

/** Milliseconds without an answer before a worker asks whether the executor listens at all. */
const PROBE = 50;
/** Milliseconds after which an unanswered announcement is made again, to be answered. */
const AGAIN = 1000;
/** Milliseconds an answer for a job not (yet) fetched here is kept. */
const KEEP_EARLY = 2000;

/**
 * A job announced to its executor. Every job has one, so it is one small object: the
 * executor's channel and lease key are made only for a job asked about (see #ask), and a
 * Promise only for a job whose task waits for its answer.
 */
export interface Announcement {
  readonly jobId: string;
  readonly at: number;
  /** When it was last asked about (undefined: not yet). */
  sentAt: number | undefined;
  /** The answer once it came: true, the task may start; false, it must not (its Future is done). */
  go: boolean | undefined;
  /** For a pack told go: the members that must not start (their Futures are done). */
  skip: ReadonlySet<number> | undefined;
  /** True when the executor's lease was found gone: no answer came, and none will (see #unleased). */
  unleased: boolean;
  /** Who waits for the answer. */
  waiter: ((go: boolean) => void) | undefined;
}

/** Answers `a` (the first answer holds). */
function settle(a: Announcement, go: boolean, skip?: ReadonlySet<number>): void {
  if (a.go !== undefined) return;
  a.go = go;
  a.skip = skip;
  const waiter = a.waiter;
  a.waiter = undefined;
  waiter?.(go);
}

/** The announcements of one worker: jobs fetched whose tasks have not started, in fetch order. */
export class Announcements {
  readonly #byJob = new Map<string, Announcement>();
  /**
   * Answers for jobs this worker has not announced, with when they came: the answer can
   * beat BullMQ's 'active' here (the executor read the event first). Most are for other
   * workers' jobs, and go after KEEP_EARLY.
   */
  readonly #early = new Map<string, { go: boolean; skip: ReadonlySet<number> | undefined; at: number }>();
  #check: ReturnType<typeof setInterval> | undefined;
  readonly #prefix: string;
  readonly #queue: string;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;

  /**
   * @param publisher where announcements go
   * @param subscriber the connection the answers (and the aborts) come on
   */
  constructor(prefix: string, queue: string, publisher: Redis, subscriber: Redis) {
    this.#prefix = prefix;
    this.#queue = queue;
    this.#publisher = publisher;
    this.#subscriber = subscriber;
  }

  /** Asks the executor of `jobId` whether its task may start. */
  announce(jobId: string): Announcement {
    const now = performance.now();
    const a: Announcement = { jobId, at: now, sentAt: undefined, go: undefined, skip: undefined, unleased: false, waiter: undefined };
    this.#byJob.delete(jobId); // a job fetched again (a retry) goes to the end
    this.#byJob.set(jobId, a);
    const early = this.#early.get(jobId);
    if (early !== undefined) {
      this.#early.delete(jobId);
      settle(a, early.go, early.skip);
    }
    // A job BullMQ fails without calling the processor leaves its entry: drop old ones
    // once answered (one still unanswered waits for its executor, or for it to go).
    for (const [id, old] of this.#byJob) {
      if (now - old.at <= 60_000) break;
      if (old.go !== undefined) this.#byJob.delete(id);
    }
    if (a.go === undefined && this.#check === undefined) {
      this.#check = setInterval(() => this.#again(), PROBE);
      this.#check.unref();
    }
    return a;
  }

  /** The announcement of `jobId`: the one made when BullMQ fetched it, else a new one. */
  of(jobId: string): Announcement {
    return this.#byJob.get(jobId) ?? this.announce(jobId);
  }

  /** Forgets `a` (its job has started, or failed without starting). */
  done(jobId: string, a: Announcement): void {
    if (this.#byJob.get(jobId) === a) this.#byJob.delete(jobId);
  }

  /** An executor's answers, separated by spaces: job ids (go), `!`-prefixed ones (no), and `id~3.7` (go, but not for the pack's members 3 and 7). */
  onAnswer(message: string): void {
    const now = performance.now();
    for (const [id, e] of this.#early) {
      if (now - e.at <= KEEP_EARLY) break;
      this.#early.delete(id);
    }
    for (let from = 0; from < message.length; ) {
      let to = message.indexOf(' ', from);
      if (to < 0) to = message.length;
      const no = message.charCodeAt(from) === 33; // '!'
      let jobId = message.slice(no ? from + 1 : from, to);
      from = to + 1;
      let skip: Set<number> | undefined;
      const tilde = jobId.indexOf('~');
      if (tilde >= 0) {
        skip = new Set(jobId.slice(tilde + 1).split('.').map(Number));
        jobId = jobId.slice(0, tilde);
      }
      const a = this.#byJob.get(jobId);
      if (a !== undefined) settle(a, !no, skip);
      else this.#early.set(jobId, { go: !no, skip, at: now });
    }
  }

  /**
   * The answer to `a`: at once when it came (the task starts in this turn), else a Promise
   * of it, which is false as soon as `stop` aborts (that answers `a` as no).
   */
  answerOf(a: Announcement, stop: { readonly aborted: boolean; onAbort(fn: () => void): void }): boolean | Promise<boolean> {
    if (a.go !== undefined) return a.go;
    if (stop.aborted) return false;
    return new Promise<boolean>((resolve) => {
      a.waiter = resolve;
      stop.onAbort(() => settle(a, false));
    });
  }

  /** Which of `jobIds` their executor wrote down as withdrawn (by index); Redis unreachable: all of them, to be safe. */
  async withdrawnOf(jobIds: readonly string[]): Promise<Set<number>> {
    const pipe = this.#publisher.pipeline();
    for (const id of jobIds) pipe.exists(withdrawnKey(this.#prefix, this.#queue, id));
    const out = new Set<number>();
    try {
      const replies = (await pipe.exec()) ?? [];
      jobIds.forEach((_, i) => {
        const [err, n] = replies[i] ?? [new Error('no reply'), 0];
        if (err || n !== 0) out.add(i);
      });
    } catch {
      jobIds.forEach((_, i) => out.add(i));
    }
    return out;
  }

  /** Stops checking for executors that went away. */
  close(): void {
    clearInterval(this.#check);
    this.#check = undefined;
  }

  /**
   * The executor of `a` has no lease: it shut down, or lost Redis for longer than its lease
   * (having set its Futures RUNNING first). Go on, after the aborts Redis took before (a
   * round trip on the subscriber), unless the executor wrote the job down as withdrawn
   * (an abort this worker missed, its connection down). Redis unreachable: the question
   * is asked again a second later.
   */
  #unleased(a: Announcement): void {
    if (a.go !== undefined) return;
    Promise.all([this.#subscriber.ping(), this.#publisher.exists(withdrawnKey(this.#prefix, this.#queue, a.jobId))]).then(
      ([, withdrawn]) => {
        if (a.go === undefined) a.unleased = true;
        settle(a, withdrawn === 0);
      },
      () => {},
    );
  }

  /**
   * Asks about the jobs `due`, in one write: the lease of each of their executors once
   * (heard or not, a live lease means wait: see the top of this file), and, for those
   * asked `again`, an announcement their executor answers. A first question publishes
   * nothing: an executor answers from the event stream, and only "again" asks it to.
   */
  #ask(due: ReadonlyArray<readonly [a: Announcement, again: boolean]>): void {
    const now = performance.now();
    const pipe = this.#publisher.pipeline();
    let published = 0;
    const byLease = new Map<string, Announcement[]>();
    for (const [a, again] of due) {
      a.sentAt = now;
      const executor = executorOf(a.jobId);
      if (again) {
        pipe.publish(startedChannel(this.#prefix, this.#queue, executor), `${a.jobId} again`);
        published++;
      }
      const lease = leaseKey(this.#prefix, this.#queue, executor);
      const jobs = byLease.get(lease);
      if (jobs === undefined) byLease.set(lease, [a]);
      else jobs.push(a);
    }
    for (const lease of byLease.keys()) pipe.exists(lease);
    pipe.exec().then(
      (replies) => {
        let i = published;
        for (const jobs of byLease.values()) {
          const [err, leased] = replies?.[i++] ?? [new Error('no reply to EXISTS'), null];
          if (!err && leased === 0) for (const a of jobs) this.#unleased(a);
        }
      },
      () => {}, // not sent (Redis unreachable): asked again a second later
    );
  }

  /** Asks about what has waited a while for an answer; stops when nothing waits. */
  #again(): void {
    const now = performance.now();
    let waiting = false;
    const due: Array<[Announcement, boolean]> = [];
    for (const a of this.#byJob.values()) {
      if (a.go !== undefined) continue;
      waiting = true;
      if (a.sentAt === undefined) {
        if (now - a.at >= PROBE) due.push([a, false]);
      } else if (now - a.sentAt >= AGAIN) {
        due.push([a, true]);
      }
    }
    if (due.length > 0) this.#ask(due);
    if (!waiting) this.close();
  }
}
