/**
 * RedisExecutor: the Executor contract over a BullMQ queue, with the work done by
 * `concur worker`s on any machine that reaches the same Redis.
 *
 *   submit ─▶ Future + job data (signed) ─▶ outbox ─(addBulk, 500 a trip)─▶ BullMQ queue ─▶ workers
 *                 ▲                                                               │
 *                 ├── the event stream (XREAD): active ─▶ RUNNING, then go (no: done) ──────▶ ┤
 *                 │                             completed / failed ─▶ settle ◀─────────────────┘
 *                 └── sweep every pollInterval: jobs whose end no event told us of
 *                     (the event stream is trimmed, a connection drops) are read
 *                     from their hashes, so no result goes missing
 *
 * A job's id is ours (`<executor id>-<n>`), known before it is sent, so an event can
 * never arrive for a job we cannot place. cancel() removes a waiting job; an aborted
 * signal does too, or, if the job runs, publishes an abort its worker acts on.
 *
 * The lease (a key with a TTL, see events.ts) tells workers we can still answer:
 *
 *   every leaseMs/3: PING (subscriber) ─▶ SET lease PX leaseMs (commands), one at a time
 *   last renewal that got through sent 2/3 leaseMs ago ─▶ every sent PENDING Future RUNNING
 *                                                         (the key lives at least leaseMs)
 *   jobs go out only while the lease holds; shutdown deletes it
 *
 * Futures of tasks known to be tiny, sent many at once, go in packs (packs.ts): one job
 * for many Futures, each settled by its own outcome in the pack's result.
 *
 * Once we have a job's outcome (its event, or its hash read by the sweep), its records
 * have served and go from Redis, in batches (removals.ts); a job withdrawn while it ran
 * goes, with its withdrawn mark, when it ends. `keepFinished` (BullMQ's age removal, the
 * mark's TTL) stays as the backstop for an executor that dies first, or misses the end.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BaseExecutor, checkInteger, type ShutdownOptions, type TaskFunction } from '../futures/executor.js';
import { checkTimeout, describe, Future } from '../futures/future.js';
import type { TaskMode } from '../futures/task-mode.js';
import { specOf } from '../tasks/describe.js';
import { Histogram } from '../util/histogram.js';
import { localOnly } from './args.js';
import { bullConnection, checkQueueName, resolveConnection, type RedisConnection } from './connection.js';
import { portableName, toPortable, type PortableTask } from './names.js';
import { abortChannel, Answers, goChannel, leaseKey, parseEvent, readStream, startedChannel, streamEnd, withdrawnKey } from './events.js';
import { completedOutcome, readRecords } from './records.js';
import { AuthenticationError, WorkerCrashedError } from '../futures/errors.js';
import { decodeValue, encodeValue, loadKey, makeJob, readFailure, type Outcome } from './wire.js';
import { HOLD_MS, makePack, PACK_MAX, planPacks, PROBE, readPackResult, SPREAD, TaskTimes } from './packs.js';
import { LapseTimer } from './lapse.js';
import { Removals } from './removals.js';
import { offAbort, onAbort } from '../util/abort.js';
import { ACTIVE, LOCAL, RedisFuture, SENT, type Entry, type RedisExecutorOptions, type RedisExecutorStats, type RedisTaskOptions } from './executor-types.js';

export { RedisFuture, type RedisExecutorOptions, type RedisExecutorStats, type RedisTaskOptions };

const KNOWN = new Set(['connection', 'queue', 'prefix', 'keepFinished', 'pollInterval', 'leaseMs', 'key', 'keyFile', '_noEvents']);
const BULK = 500;
const SWEEP = 500;
/** The shortest lease: a worker looks at it once a second, so a shorter one buys little. */
const LEASE_MIN = 1000;

/** Runs tasks on `concur worker`s through a Redis queue (BullMQ), with the Executor API of a local pool. */
export class RedisExecutor extends BaseExecutor {
  readonly #queueName: string;
  readonly #prefix: string;
  readonly #key: Buffer;
  readonly #connection: RedisConnection;
  readonly #keepFinished: number;
  readonly #pollInterval: number;
  readonly #queue: Queue;
  readonly #redis: Redis;
  readonly #eventsClient: Redis;
  readonly #startedClient: Redis;
  #stopping = false;
  readonly #ready: Promise<void>;
  readonly #idBase = randomBytes(6).toString('hex');
  #seq = 0;
  readonly #pending = new Map<string, Entry>();
  readonly #answers: Answers;
  #outbox: Entry[] = [];
  #flushing = false;
  readonly #chores = new Set<Promise<unknown>>();
  readonly #sweeper: ReturnType<typeof setInterval>;
  #sweeping = false;
  #onIdle: (() => void) | undefined;
  #closed: Promise<void> | undefined;
  readonly #latency = new Histogram();
  readonly #leaseMs: number;
  readonly #leaseKey: string;
  /** performance.now() until which our lease surely lives in Redis, less a margin (see #leased). */
  #leaseUntil = -Infinity;
  #renewing = false;
  /** A renewal fell due while one was on its way: it goes as soon as that one is back. */
  #renewDue = false;
  #leaseEnded = false;
  readonly #renewer: ReturnType<typeof setInterval> | undefined;
  /** Calls #ifLapsed once performance.now() passes #leaseUntil (see lapse.ts: a bare timer can fire early by it). */
  readonly #lapse = new LapseTimer(() => this.#ifLapsed());
  /** Woken when the lease is renewed (or nothing is left to send): #flush waits for a live lease. */
  #onLease: Array<() => void> = [];
  /** Settled jobs' records on their way out of Redis. */
  readonly #removals: Removals;
  /** The packs sent, by job id: their members, in order. */
  readonly #packs = new Map<string, Entry[]>();
  /** Packs with members cancelled while the rest wait: those members' withdrawn marks, deleted with the pack. */
  readonly #marked = new Map<string, string[]>();
  /** How long tasks run, as workers report: which are tiny enough to pack. */
  readonly #times = new TaskTimes();
  /** Wakes a #flush that holds a backlog back until its task's probes are timed. */
  #onTimed: (() => void) | undefined;
  #completed = 0;
  #failed = 0;
  #cancelled = 0;

  constructor(options: RedisExecutorOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError(`RedisExecutor options must be an object, got ${describe(options)}`);
    for (const k of Object.keys(options)) if (!KNOWN.has(k)) throw new TypeError(`RedisExecutor: unknown option "${k}"`);
    this.#queueName = checkQueueName(options.queue, 'RedisExecutor');
    this.#connection = resolveConnection(options.connection, 'RedisExecutor');
    this.#prefix = options.prefix ?? 'bull';
    if (typeof this.#prefix !== 'string' || this.#prefix === '') throw new TypeError(`RedisExecutor: prefix must be a non-empty string, got ${describe(options.prefix)}`);
    checkInteger('keepFinished', options.keepFinished, 1);
    checkTimeout(options.pollInterval, 'pollInterval');
    this.#keepFinished = options.keepFinished ?? 3600;
    this.#pollInterval = Math.max(50, options.pollInterval ?? 2000);
    const leaseMs: unknown = options.leaseMs === undefined ? 10_000 : options.leaseMs;
    if (typeof leaseMs !== 'number' || !Number.isInteger(leaseMs) || leaseMs < LEASE_MIN) {
      throw new RangeError(`RedisExecutor: leaseMs must be an integer number of milliseconds >= ${LEASE_MIN}, got ${describe(options.leaseMs)}`);
    }
    this.#leaseMs = leaseMs;
    this.#leaseKey = leaseKey(this.#prefix, this.#queueName, this.#idBase);
    this.#key = loadKey(options, 'RedisExecutor');

    const connection = bullConnection(this.#connection);
    this.#queue = new Queue(this.#queueName, { connection, prefix: this.#prefix });
    this.#queue.on('error', () => {}); // ioredis reconnects by itself; commands wait for it
    this.#redis = typeof this.#connection === 'string' ? new Redis(this.#connection) : new Redis(this.#connection);
    this.#redis.on('error', () => {});
    this.#answers = new Answers(goChannel(this.#prefix, this.#queueName), this.#redis);
    this.#removals = new Removals(this.#queue, this.#redis, (jobId) => withdrawnKey(this.#prefix, this.#queueName, jobId));
    // Back after a drop: events may have been missed meanwhile; read every unfinished job now.
    let connectedBefore = false;
    this.#redis.on('ready', () => {
      if (connectedBefore) {
        void this.#sweep(true);
        this.#renew();
      }
      connectedBefore = true;
    });
    this.#eventsClient = typeof this.#connection === 'string' ? new Redis(this.#connection) : new Redis(this.#connection);
    this.#eventsClient.on('error', () => {});
    this.#startedClient = typeof this.#connection === 'string' ? new Redis(this.#connection) : new Redis(this.#connection);
    this.#startedClient.on('error', () => {});
    this.#startedClient.on('message', (_channel: string, message: string) => this.#onAnnounced(message));
    this.#ready = options._noEvents === true ? Promise.resolve() : this.#start();
    this.#ready.catch(() => {});
    this.#sweeper = setInterval(() => void this.#sweep(), this.#pollInterval);
    this.#sweeper.unref();
    if (options._noEvents === true) {
      // It never answers a worker: no lease, so that workers go on without its word.
      this.#leaseUntil = Infinity;
    } else {
      this.#renew();
      this.#renewer = setInterval(() => this.#renew(), Math.floor(leaseMs / 3));
      this.#renewer.unref();
    }
  }

  /** The queue's name. */
  get queue(): string {
    return this.#queueName;
  }

  /** Listens to the queue's events and to the workers' announcements, before any job goes out. */
  async #start(): Promise<void> {
    const eventsKey = `${this.#prefix}:${this.#queueName}:events`;
    const from = await streamEnd(this.#redis, eventsKey);
    const client = this.#eventsClient;
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    // A worker starts a task of ours only once we answer (see #tell): so the Future is
    // RUNNING before the task can have done anything, and cancel() answers false for it,
    // as for a local pool. The worker also tells us it has the job; unanswered, it asks
    // again, and goes on without us only once our lease is gone (see #renew).
    await this.#startedClient.subscribe(startedChannel(this.#prefix, this.#queueName, this.#idBase));
    readStream(
      client,
      eventsKey,
      from,
      (fields) => this.#onEvent(fields),
      () => this.#stopping,
      () => this.#answers.take(),
    );
  }

  #onEvent(fields: string[]): void {
    const ev = parseEvent(fields);
    if (ev === undefined) return;
    // The stream's 'active' comes as the worker gets the job (moveToActive writes it): its
    // answer is on its way while the worker makes ready.
    if (ev.event === 'active' && ev.jobId.startsWith(this.#idBase) && ev.jobId[this.#idBase.length] === '-') this.#tell(ev.jobId, false);
    const pack = this.#packs.get(ev.jobId);
    if (pack !== undefined) {
      if (ev.event === 'completed') this.#packEnded(ev.jobId, pack, ev.value, undefined);
      else if (ev.event === 'failed') this.#packEnded(ev.jobId, pack, undefined, ev.value ?? 'unknown');
      else if (ev.event === 'removed') this.#packGone(ev.jobId, pack, `was removed from queue ${this.#queueName} before it finished`);
      return;
    }
    const e = this.#pending.get(ev.jobId);
    if (e === undefined) {
      if (this.#removals.withdrawn(ev.jobId) && (ev.event === 'completed' || ev.event === 'failed' || ev.event === 'removed')) this.#removals.forget(ev.jobId);
      return;
    }
    const { jobId, value } = ev;
    switch (ev.event) {
      case 'completed':
        this.#settle(e, this.#learn(e, completedOutcome(this.#key, this.#queueName, jobId, value, e.task)));
        this.#removals.forget(jobId);
        break;
      case 'failed':
        this.#settle(e, { ok: false, error: readFailure(this.#key, this.#queueName, jobId, value ?? 'unknown', e.task) });
        this.#removals.forget(jobId);
        break;
      case 'removed':
        this.#settle(e, { ok: false, error: new Error(`job ${jobId} (${e.task}) was removed from queue ${this.#queueName} before it finished`) });
        break;
    }
  }

  override submit<A extends unknown[], R>(fn: TaskFunction<A, R>, ...args: A): RedisFuture<Awaited<R>> {
    return super.submit(fn, ...args) as RedisFuture<Awaited<R>>;
  }

  override submitWith<A extends unknown[], R>(options: RedisTaskOptions, fn: TaskFunction<A, R>, ...args: A): RedisFuture<Awaited<R>> {
    if (options !== null && typeof options === 'object' && options.priority !== undefined) {
      checkInteger('options.priority', options.priority, 1);
      if (options.priority > 2_097_151) throw new RangeError(`options.priority must be at most 2097151, got ${options.priority}`);
    }
    return super.submitWith(options, fn, ...args) as RedisFuture<Awaited<R>>;
  }

  protected override autoChunksize(length: number | undefined): number {
    return length === undefined ? 256 : Math.max(1, Math.min(256, Math.ceil(length / 64)));
  }

  protected schedule(fn: TaskFunction, args: unknown[], options: RedisTaskOptions, mode: TaskMode): Future<unknown> {
    if (this.isShutdown) throw new Error(`cannot schedule new futures after shutdown (RedisExecutor)`);
    const id = `${this.#idBase}-${++this.#seq}`;
    const future = new RedisFuture<unknown>(id, (f) => this.#onCancel(f), () => this.#ifLapsed());
    let task: PortableTask;
    let encoded: string;
    try {
      if (options.signal?.aborted) throw options.signal.reason;
      task = toPortable(specOf(fn));
      const bad = localOnly(args);
      if (bad !== undefined) throw new TypeError(`task ${fn.name || '<anonymous>'}: ${bad}`);
      encoded = encodeValue(args, `an argument of task ${fn.name || '<anonymous>'}`);
    } catch (err) {
      future.setException(err);
      return future;
    }
    const opts: Record<string, unknown> = {
      jobId: id,
      attempts: (options.retries ?? 0) + 1,
      removeOnComplete: { age: this.#keepFinished },
      removeOnFail: { age: this.#keepFinished },
    };
    if (options.priority !== undefined) opts.priority = options.priority;
    const name = portableName(task);
    const entry: Entry = {
      id,
      jobId: id,
      future,
      task: name,
      job: { task, mode, args: encoded, timeout: options.timeout ?? null, opts },
      times: `${mode} ${name}`,
      packable: options.signal === undefined && options.timeout === undefined && (options.retries ?? 0) === 0 && options.priority === undefined,
      state: LOCAL,
      added: false,
      submittedAt: performance.now(),
      checkedAt: performance.now(),
      signal: options.signal,
      onAbort: undefined,
    };
    if (options.signal !== undefined) {
      const signal = options.signal;
      entry.onAbort = () => this.#abort(entry, signal.reason);
      onAbort(signal, entry.onAbort);
    }
    this.#pending.set(id, entry);
    this.#send(entry);
    return future;
  }

  /** Puts `e` in the outbox, to go in the next batch. */
  #send(e: Entry): void {
    this.#outbox.push(e);
    if (!this.#flushing) {
      // A microtask, not a later turn of the event loop: the submissions of this turn's
      // code still go in one batch, and a lone job goes out at once. While a batch is on
      // its way, later submissions wait in the outbox for the next one.
      this.#flushing = true;
      queueMicrotask(() => this.#chore(this.#flush()));
    }
  }

  /** Sends the outbox, BULK jobs per trip, in submission order. */
  async #flush(): Promise<void> {
    try {
      await this.#ready;
    } catch (err) {
      for (const e of this.#outbox.splice(0)) this.#settle(e, { ok: false, error: err });
    }
    while (this.#outbox.length > 0) {
      if (!this.#leaseHolds()) {
        // A job sent now could reach a worker that finds no lease and starts it, its
        // Future PENDING here: it waits for a renewal, or for every Future to be done (a
        // shutdown that cancelled them must not wait for Redis).
        await new Promise<void>((resolve) => this.#onLease.push(resolve));
        this.#outbox = this.#outbox.filter((e) => !e.future.done());
        continue;
      }
      // Planned over enough of the outbox for BULK full packs; what does not go in this
      // trip goes back to its head.
      const held: Entry[] = [];
      const window = this.#probeFirst(this.#outbox.splice(0, BULK * PACK_MAX).filter((e) => !e.future.done()), held);
      if (held.length > 0) this.#outbox = held.concat(this.#outbox);
      if (window.length === 0) {
        if (held.length > 0) await this.#untilTimed();
        continue;
      }
      const plan = planPacks(window, (e) => e.packable && this.#times.tiny(e.times));
      if (plan.length > BULK) this.#outbox = plan.slice(BULK).flatMap((p) => ('pack' in p ? p.pack : [p.single])).concat(this.#outbox);
      const batch: Entry[] = [];
      const jobs = plan.slice(0, BULK).map((p) => ('pack' in p ? this.#packJob(p.pack, batch) : this.#singleJob(p.single, batch)));
      try {
        // A lone job goes by add: addBulk's ioredis pipeline costs more to build (a copy of
        // every BullMQ script command) than it saves on one job.
        if (jobs.length === 1) await this.#queue.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts);
        else await this.#queue.addBulk(jobs as Parameters<Queue['addBulk']>[0]);
        for (const e of batch) e.added = true;
      } catch (err) {
        for (const e of batch) {
          this.#settle(e, { ok: false, error: err });
          // Its pack is forgotten here; marks of its cancelled members are left to their
          // TTL, in case the pack got into Redis all the same.
          if (this.#packs.delete(e.jobId)) this.#marked.delete(e.jobId);
        }
      }
    }
    this.#flushing = false;
  }

  /**
   * `window` less what waits for its task to be timed (see packs.ts), which goes to
   * `held`: of a backlog of a task not yet timed, PROBE go first and the rest waits.
   */
  #probeFirst(window: Entry[], held: Entry[]): Entry[] {
    let counts: Map<string, number> | undefined;
    for (const e of window) {
      if (!e.packable || this.#times.tiny(e.times)) continue;
      counts ??= new Map();
      counts.set(e.times, (counts.get(e.times) ?? 0) + 1);
    }
    if (counts === undefined) return window;
    const now = performance.now();
    const plan = new Map<string, number>(); // how many of the task go now
    for (const [task, n] of counts) {
      if (n < 2 * SPREAD) continue;
      const step = this.#times.backlog(task, now);
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

  /** The job of one Future, signed; the Future joins `sent`. */
  #singleJob(e: Entry, sent: Entry[]): { name: string; data: unknown; opts: Record<string, unknown> } {
    const job = e.job!;
    e.job = undefined;
    e.state = SENT;
    sent.push(e);
    return { name: job.task.name, data: makeJob(this.#key, this.#queueName, e.id, job.task, job.mode, job.args, job.timeout), opts: job.opts };
  }

  /** The job of a pack of Futures, signed; they join `sent`. */
  #packJob(members: Entry[], sent: Entry[]): { name: string; data: unknown; opts: Record<string, unknown> } {
    const packId = `${this.#idBase}-${++this.#seq}`;
    const requests = members.map((e) => {
      const job = e.job!;
      e.state = SENT;
      e.jobId = packId;
      sent.push(e);
      return { id: e.id, task: job.task, mode: job.mode, args: job.args };
    });
    this.#packs.set(packId, members);
    return {
      name: `pack of ${members.length}`,
      data: makePack(this.#key, this.#queueName, packId, requests),
      opts: { jobId: packId, attempts: 1, removeOnComplete: { age: this.#keepFinished }, removeOnFail: { age: this.#keepFinished } },
    };
  }

  /** Learns how long the task of `e` ran from its outcome, which it returns. */
  #learn(e: Entry, outcome: Outcome): Outcome {
    if (outcome.ok && outcome.ms !== undefined) {
      this.#times.record(e.times, outcome.ms);
      this.#timed();
    }
    return outcome;
  }

  #timed(): void {
    const wake = this.#onTimed;
    this.#onTimed = undefined;
    wake?.();
  }

  /** A pack's job ended: completed (`returnvalue`, JSON) or failed (`failedReason`): each member has its outcome. */
  #packEnded(packId: string, members: Entry[], returnvalue: string | undefined, failedReason: string | undefined): void {
    this.#packs.delete(packId);
    this.#unmark(packId);
    this.#removals.forget(packId);
    const what = `a pack of ${members.length} tasks`;
    if (failedReason !== undefined) {
      const error = readFailure(this.#key, this.#queueName, packId, failedReason, what);
      if (error instanceof WorkerCrashedError) {
        // Its workers kept dying: one member may be what kills them. Each goes again
        // alone, so that only that one fails (the others run again: at least once).
        for (const e of members) {
          if (!this.#pending.has(e.id)) continue;
          e.packable = false;
          e.jobId = e.id;
          e.added = false;
          e.state = LOCAL;
          this.#send(e);
        }
        return;
      }
      for (const e of members) this.#settle(e, { ok: false, error });
      return;
    }
    // The pack ran: every member still waiting ran or was refused, so none may be
    // cancelled now (by a done-callback of a member settled before it, say).
    for (const e of members) {
      e.job = undefined;
      this.#onActive(e.id);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(returnvalue ?? 'null');
    } catch {
      parsed = undefined;
    }
    const outcomes = readPackResult(this.#key, this.#queueName, packId, parsed, members.length);
    if (typeof outcomes === 'string') {
      const error = /not signed/.test(outcomes) ? new AuthenticationError(outcomes) : new Error(outcomes);
      for (const e of members) this.#settle(e, { ok: false, error });
      return;
    }
    members.forEach((e, i) => {
      const [ok, text, ms] = outcomes[i]!;
      if (!this.#pending.has(e.id)) return;
      this.#times.record(e.times, ms);
      if (ok === 0) {
        this.#settle(e, { ok: false, error: readFailure(this.#key, this.#queueName, e.id, text, e.task) });
        return;
      }
      let outcome: Outcome;
      try {
        outcome = { ok: true, value: decodeValue(text) };
      } catch (err) {
        outcome = { ok: false, error: new Error(`the result of job ${e.id} (${e.task}) cannot be read: ${(err as Error).message}`) };
      }
      this.#settle(e, outcome);
    });
    this.#timed();
  }

  /** A pack's job is gone before it finished (`how`): its members that wait fail. */
  #packGone(packId: string, members: Entry[], how: string): void {
    this.#packs.delete(packId);
    this.#unmark(packId);
    for (const e of members) this.#settle(e, { ok: false, error: new Error(`job ${e.id} (${e.task}), in pack ${packId}, ${how}`) });
  }

  /**
   * A worker has had one of our jobs for a second with no answer: "jobId again" (the
   * stream's 'active' was missed: trimmed, or its connection dropped). A plain "jobId"
   * (what workers before the batched lease check sent first) needs no answer: the
   * stream's 'active' gives it.
   */
  #onAnnounced(message: string): void {
    const at = message.indexOf(' ');
    if (at >= 0 && message.slice(at + 1) === 'again') this.#tell(message.slice(0, at), true);
  }

  /**
   * A worker has the job `jobId` of ours: the Future goes RUNNING, then the workers hear
   * go; a Future already done (cancelled, aborted) gets no, and its task does not start.
   * The answers of one turn go out together: those called for by the event stream with
   * its next read (see readStream), others `now`, in a microtask.
   */
  #tell(jobId: string, now: boolean): void {
    const pack = this.#packs.get(jobId);
    if (pack !== undefined) {
      // Members done meanwhile (cancelled) are named, so that they never start.
      const skip: number[] = [];
      pack.forEach((e, i) => {
        if (this.#pending.has(e.id)) this.#onActive(e.id);
        else skip.push(i);
      });
      this.#answers.add(jobId, skip.length < pack.length, skip);
    } else {
      const go = this.#pending.has(jobId);
      if (go) this.#onActive(jobId);
      this.#answers.add(jobId, go);
    }
    if (now) this.#answers.sendSoon();
  }

  /**
   * Renews the lease: a PING on the subscriber connection, then SET PX on the command
   * connection, so that the lease lives only while we can both hear workers and answer
   * them. One at a time: a reply that does not come (a link gone silent, a machine
   * frozen) stops the renewals, and the key expires. The SET says whether the key was
   * still there: one Redis lost (whatever our clock says) counts as a lapse.
   */
  #renew(): void {
    if (this.#leaseEnded) return;
    if (this.#renewing) {
      this.#renewDue = true;
      return;
    }
    this.#renewing = true;
    this.#renewDue = false;
    void (async () => {
      let ok = false;
      try {
        await this.#startedClient.ping();
        if (this.#leaseEnded) return;
        const sentAt = performance.now();
        // EXISTS and SET in one transaction (SET's GET option needs Redis 6.2; BullMQ runs on 5).
        const replies = await this.#redis.multi().exists(this.#leaseKey).set(this.#leaseKey, '1', 'PX', this.#leaseMs).exec();
        const failed = replies?.find(([err]) => err !== null)?.[0];
        if (replies === null || failed !== undefined) throw failed ?? new Error('the lease transaction was discarded');
        ok = true;
        if (this.#leaseEnded) return;
        if (replies[0]![1] === 0 && this.#leaseUntil !== -Infinity) {
          // Gone before its time by our clock: Redis lost it (evicted under maxmemory, a
          // restart, a failover to a replica that lacked the last renewal). A worker may
          // have found no lease meanwhile and started a job of ours.
          this.#leaseUntil = -Infinity;
          this.#ifLapsed();
        }
        this.#leased(sentAt);
      } catch {
        // Redis unreachable: the next tick tries again
      } finally {
        this.#renewing = false;
        if (ok && this.#renewDue) this.#renew();
      }
    })();
  }

  /**
   * A renewal sent at `sentAt` got through: Redis set the key after that, so it lives at
   * least until sentAt + leaseMs by our clock. Until two thirds of that we hold the lease;
   * the last third is the margin in which #ifLapsed runs, however late its timer fires.
   */
  #leased(sentAt: number): void {
    const until = sentAt + (this.#leaseMs * 2) / 3;
    if (until <= this.#leaseUntil) return;
    this.#leaseUntil = until;
    this.#lapse.arm(until);
    if (this.#leaseHolds()) for (const wake of this.#onLease.splice(0)) wake();
  }

  #leaseHolds(): boolean {
    return performance.now() < this.#leaseUntil;
  }

  /**
   * When the lease may have lapsed (no renewal got through lately), a worker holding a job
   * of ours may find it gone before we are back and start its task: every Future whose job
   * has gone to Redis and is still PENDING goes RUNNING now, before Redis can expire the
   * key, so cancel() answers false for it as for a started task. Asked by the lapse timer,
   * and by cancel() itself, in case that timer is late.
   */
  #ifLapsed(): void {
    if (this.#leaseHolds() || this.#leaseEnded) return;
    for (const e of this.#pending.values()) if (e.state !== LOCAL) this.#onActive(e.id);
  }

  #onActive(jobId: string): void {
    const e = this.#pending.get(jobId);
    if (e === undefined || e.future.state !== 'PENDING') return;
    if (e.state === SENT) this.#times.started(e.times, performance.now());
    e.state = ACTIVE;
    e.future.setRunningOrNotifyCancel();
  }

  /** Ends a Future with what its job came to, once. */
  #settle(e: Entry, outcome: Outcome): void {
    if (!this.#pending.delete(e.id)) return;
    this.#detach(e);
    if (e.future.done()) return;
    this.#latency.record((performance.now() - e.submittedAt) * 1000);
    if (outcome.ok) {
      this.#completed++;
      // A result means its task ran: RUNNING first, even when no one said it started
      // (no executor listened when the worker asked, as after a dropped connection).
      if (e.future.state === 'PENDING') e.future.setRunningOrNotifyCancel();
      e.future.setResult(outcome.value);
    } else {
      this.#failed++;
      e.future.setException(outcome.error);
    }
    this.#checkIdle();
  }

  #detach(e: Entry): void {
    if (e.onAbort !== undefined) offAbort(e.signal!, e.onAbort);
    e.onAbort = undefined;
  }

  #onCancel(f: RedisFuture<unknown>): void {
    const e = this.#pending.get(f.jobId);
    if (e === undefined) return;
    this.#pending.delete(e.id);
    this.#detach(e);
    this.#cancelled++;
    if (e.state !== LOCAL) {
      // A pack goes once none of its members waits; until then its answer names them.
      const pack = this.#packs.get(e.jobId);
      if (pack === undefined || pack.every((m) => !this.#pending.has(m.id))) this.#chore(this.#withdraw(e.jobId));
      else this.#chore(this.#markWithdrawn(e.jobId, e.id));
    }
    this.#checkIdle();
  }

  /** An aborted signal: the Future fails with its reason at once; the job is removed, or stopped where it runs. */
  #abort(e: Entry, reason: unknown): void {
    if (e.future.done()) return;
    const sent = e.state !== LOCAL;
    this.#settle(e, { ok: false, error: reason });
    if (sent) this.#chore(this.#withdraw(e.id));
  }

  /**
   * A member of a pack whose other members wait is cancelled: its pack's go names it, and
   * a worker that goes on without a go (our lease gone) finds it written down as withdrawn.
   */
  async #markWithdrawn(packId: string, memberId: string): Promise<void> {
    const mark = withdrawnKey(this.#prefix, this.#queueName, memberId);
    const marks = this.#marked.get(packId);
    if (marks === undefined) this.#marked.set(packId, [mark]);
    else marks.push(mark);
    try {
      await this.#redis.set(mark, '1', 'EX', this.#keepFinished);
    } catch {
      // Redis is gone: the lease lapses too, and the Futures go RUNNING (see the top of the file)
    }
  }

  /** The pack `packId` is done with: its members' marks go. */
  #unmark(packId: string): void {
    const marks = this.#marked.get(packId);
    if (marks === undefined) return;
    this.#marked.delete(packId);
    this.#chore(this.#redis.del(...marks).catch(() => {}));
  }

  /** Removes a job that waits; a job that runs (locked) is told to stop through the abort channel. */
  async #withdraw(jobId: string): Promise<void> {
    // Its end is awaited from now: an end that comes while the removal is refused is not missed.
    this.#removals.withdraw(jobId);
    let removed = 0;
    try {
      removed = await this.#queue.remove(jobId);
    } catch {
      removed = 0;
    }
    if (removed === 1) {
      this.#removals.unwithdraw(jobId);
      this.#packs.delete(jobId);
      this.#unmark(jobId);
    } else {
      try {
        // Written down before it is said, in one write: a worker that misses the abort and
        // then finds us gone reads it before it starts the task.
        const replies = await this.#redis
          .pipeline()
          .set(withdrawnKey(this.#prefix, this.#queueName, jobId), '1', 'EX', this.#keepFinished)
          .publish(abortChannel(this.#prefix, this.#queueName), jobId)
          .exec();
        for (const [err] of replies ?? []) if (err) throw err;
      } catch {
        // Redis is gone: the job's result, when it comes, is for a Future already done
      }
    }
  }

  /** Reads the state of every job sent and not settled for a while: what no event told us, the job's hash does. */
  async #sweep(all = false): Promise<void> {
    if (this.#sweeping || this.#pending.size === 0) return;
    this.#sweeping = true;
    try {
      // Oldest first (the map keeps submission order), at most SWEEP jobs a tick unless
      // all are asked for: with many jobs in flight the events deliver nearly every
      // result, and reading every hash each tick would cost Redis more than the jobs.
      const now = performance.now();
      // By job: a pack's hash is read once for all its members.
      const due = new Map<string, Entry>();
      for (const e of this.#pending.values()) {
        if (!all && due.size >= SWEEP) break;
        if (e.added && (all || now - e.checkedAt >= this.#pollInterval)) {
          e.checkedAt = now;
          if (!due.has(e.jobId)) due.set(e.jobId, e);
        }
      }
      const jobs = [...due.keys()];
      for (let i = 0; i < jobs.length; i += BULK) {
        const batch = jobs.slice(i, i + BULK);
        const records = await readRecords(this.#redis, batch.map((jobId) => this.#queue.toKey(jobId)));
        batch.forEach((jobId, j) => {
          const r = records[j];
          const pack = this.#packs.get(jobId);
          const e = due.get(jobId)!;
          // A member whose pack ended while this read was on its way may have gone again alone.
          if (r === undefined || (pack === undefined && (e.jobId !== jobId || !this.#pending.has(e.id)))) return;
          if (r.kind === 'gone') void this.#confirmGone(jobId, e);
          else if (r.kind === 'started') {
            for (const m of pack ?? [e]) this.#onActive(m.id);
          } else if (r.kind === 'finished') {
            const completed = r.returnvalue !== null && r.returnvalue !== 'null';
            if (pack !== undefined) this.#packEnded(jobId, pack, completed ? r.returnvalue! : undefined, completed ? undefined : (r.failedReason ?? 'unknown'));
            else {
              this.#settle(
                e,
                completed
                  ? this.#learn(e, completedOutcome(this.#key, this.#queueName, e.id, r.returnvalue!, e.task))
                  : { ok: false, error: readFailure(this.#key, this.#queueName, e.id, r.failedReason ?? 'unknown', e.task) },
              );
              this.#removals.forget(e.id);
            }
          }
        });
      }
    } catch {
      // Redis unreachable: the next sweep tries again
    } finally {
      this.#sweeping = false;
    }
  }

  async #confirmGone(jobId: string, e: Entry): Promise<void> {
    if ((await this.#redis.exists(this.#queue.toKey(jobId))) !== 0) return;
    const pack = this.#packs.get(jobId);
    if (pack !== undefined) this.#packGone(jobId, pack, `is no longer in queue ${this.#queueName} (removed, or expired before its result was read)`);
    else if (this.#pending.has(e.id) && e.jobId === jobId) {
      this.#settle(e, { ok: false, error: new Error(`job ${e.id} (${e.task}) is no longer in queue ${this.#queueName} (removed, or expired before its result was read)`) });
    }
  }

  #chore(p: Promise<unknown>): void {
    this.#chores.add(p);
    void p.finally(() => this.#chores.delete(p));
  }

  #checkIdle(): void {
    // Nothing left to send: a #flush waiting for the lease ends (shutdown waits for it).
    if (this.#pending.size === 0 && this.#onLease.length > 0) for (const wake of this.#onLease.splice(0)) wake();
    if (this.#pending.size === 0 && this.#onIdle !== undefined) {
      const done = this.#onIdle;
      this.#onIdle = undefined;
      done();
    }
  }

  /** Live counts and the submit-to-result latency. */
  stats(): RedisExecutorStats {
    let local = 0;
    let waiting = 0;
    let running = 0;
    for (const e of this.#pending.values()) {
      if (e.state === LOCAL) local++;
      else if (e.future.state === 'RUNNING') running++;
      else waiting++;
    }
    const h = this.#latency;
    return {
      local,
      waiting,
      running,
      completed: this.#completed,
      failed: this.#failed,
      cancelled: this.#cancelled,
      latency: { p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.max },
    };
  }

  protected doShutdown(options: Required<ShutdownOptions>): Promise<void> {
    if (options.cancelFutures) {
      for (const e of [...this.#pending.values()]) if (e.future.state === 'PENDING') e.future.cancel();
    }
    this.#closed ??= (async () => {
      if (this.#pending.size > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve));
      // The settled jobs' records go now, without waiting for the timer.
      await this.#removals.close();
      while (this.#chores.size > 0) await Promise.allSettled([...this.#chores]);
      clearInterval(this.#sweeper);
      await this.#ready.catch(() => {});
      this.#stopping = true;
      this.#leaseEnded = true;
      clearInterval(this.#renewer);
      this.#lapse.clear();
      this.#eventsClient.disconnect(); // ends a blocked XREAD at once
      this.#startedClient.disconnect();
      // No Future of ours is left: workers need not wait for us. The DEL goes on the
      // connection that renewed the lease, after any renewal on its way.
      await Promise.allSettled([this.#queue.close(), this.#redis.del(this.#leaseKey), this.#redis.quit()]);
    })();
    return this.#closed;
  }
}
