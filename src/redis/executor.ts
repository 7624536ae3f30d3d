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
 * The lease (lease.ts) tells workers we can still answer: jobs go out only while it
 * holds, and when it may have lapsed every sent PENDING Future goes RUNNING.
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
import type { Redis } from 'ioredis';
import { BaseExecutor, checkInteger, type ShutdownOptions, type TaskFunction } from '../futures/executor.js';
import { Future } from '../futures/future.js';
import type { TaskMode } from '../futures/task-mode.js';
import { specOf } from '../tasks/describe.js';
import { Histogram } from '../util/histogram.js';
import { localOnly } from './args.js';
import { bullConnection, checkDatabase, newClient, untilOffline, type RedisConnection } from './connection.js';
import { toPortable, type PortableTask } from './names.js';
import { abortChannel, Answers, goChannel, leaseKey, parseEvent, readStream, startedChannel, streamEnd, withdrawnKey } from './events.js';
import { completedOutcome } from './records.js';
import { Sweeper } from './sweep.js';
import { encodeValue, readFailure, type Outcome } from './wire.js';
import { TaskTimes } from './packs.js';
import { PackBook } from './pack-book.js';
import { Outbox } from './outbox.js';
import { Lease } from './lease.js';
import { Removals } from './removals.js';
import { offAbort, onAbort } from '../util/abort.js';
import { ACTIVE, countEntries, LOCAL, newEntry, readOptions, RedisFuture, SENT, type Entry, type RedisExecutorOptions, type RedisExecutorStats, type RedisTaskOptions } from './executor-types.js';

export { RedisFuture, type RedisExecutorOptions, type RedisExecutorStats, type RedisTaskOptions };


/** Runs tasks on `concur worker`s through a Redis queue (BullMQ), with the Executor API of a local pool. */
export class RedisExecutor extends BaseExecutor {
  readonly #queueName: string;
  readonly #prefix: string;
  readonly #key: Buffer;
  readonly #connection: RedisConnection;
  readonly #keepFinished: number;
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
  readonly #outbox: Outbox;
  readonly #chores = new Set<Promise<unknown>>();
  readonly #sweeper: Sweeper;
  #onIdle: (() => void) | undefined;
  #closed: Promise<void> | undefined;
  readonly #latency = new Histogram();
  readonly #lease: Lease;
  /** Settled jobs' records on their way out of Redis. */
  readonly #removals: Removals;
  readonly #packs: PackBook;
  /** How long tasks run, as workers report: which are tiny enough to pack. */
  readonly #times = new TaskTimes();
  #completed = 0;
  #failed = 0;
  #cancelled = 0;

  constructor(options: RedisExecutorOptions) {
    super();
    const o = readOptions(options);
    this.#queueName = o.queue;
    this.#connection = o.connection;
    this.#prefix = o.prefix;
    this.#keepFinished = o.keepFinished;
    this.#key = o.key;

    const connection = bullConnection(this.#connection);
    this.#queue = new Queue(this.#queueName, { connection, prefix: this.#prefix });
    this.#queue.on('error', () => {}); // ioredis reconnects by itself; commands wait for it
    this.#redis = newClient(this.#connection);
    this.#answers = new Answers(goChannel(this.#prefix, this.#queueName), this.#redis);
    this.#removals = new Removals(this.#queue, this.#redis, (jobId) => withdrawnKey(this.#prefix, this.#queueName, jobId), {
      abortChannel: abortChannel(this.#prefix, this.#queueName),
      markSeconds: this.#keepFinished,
    });
    // Back after a drop: events may have been missed meanwhile; read every unfinished job now.
    let connectedBefore = false;
    this.#redis.on('ready', () => {
      if (connectedBefore) {
        void this.#sweeper.sweep(true);
        this.#lease.renew();
      }
      connectedBefore = true;
    });
    this.#eventsClient = newClient(this.#connection);
    this.#startedClient = newClient(this.#connection);
    this.#startedClient.on('message', (_channel: string, message: string) => this.#onAnnounced(message));
    this.#lease = new Lease(leaseKey(this.#prefix, this.#queueName, this.#idBase), o.leaseMs, this.#redis, this.#startedClient, () => this.#ifLapsed());
    this.#ready = options._noEvents === true ? Promise.resolve() : this.#start();
    this.#ready.catch(() => {});
    this.#sweeper = new Sweeper(o.pollInterval, {
      redis: this.#redis,
      toKey: (jobId) => this.#queue.toKey(jobId),
      pending: this.#pending,
      packs: () => this.#packs,
      onActive: (id) => this.#onActive(id),
      ended: (e, completed, value) => this.#ended(e, completed, value),
      gone: (jobId, e) => this.#gone(jobId, e),
    });
    this.#packs = new PackBook({
      key: this.#key,
      queueName: this.#queueName,
      redis: this.#redis,
      keepFinished: this.#keepFinished,
      times: this.#times,
      pending: this.#pending,
      markKey: (memberId) => withdrawnKey(this.#prefix, this.#queueName, memberId),
      settle: (e, outcome) => this.#settle(e, outcome),
      onActive: (id) => this.#onActive(id),
      resend: (e) => this.#outbox.push(e),
      forget: (jobId) => this.#removals.forget(jobId),
      timed: () => this.#timed(),
      chore: (p) => this.#chore(p),
    });
    this.#outbox = new Outbox({
      queue: this.#queue,
      lease: this.#lease,
      ready: this.#ready,
      key: this.#key,
      keepFinished: this.#keepFinished,
      times: this.#times,
      packs: this.#packs.packs,
      newId: () => `${this.#idBase}-${++this.#seq}`,
      settle: (e, outcome) => this.#settle(e, outcome),
      unsent: (e) => this.#packs.unsent(e.jobId),
      chore: (p) => this.#chore(p),
    });
    // One that never answers a worker holds no lease, so that workers go on without its word.
    if (options._noEvents === true) this.#lease.forgo();
    else this.#lease.start();
  }

  /** The queue's name. */
  get queue(): string {
    return this.#queueName;
  }

  /** Listens to the queue's events and to the workers' announcements, before any job goes out. */
  async #start(): Promise<void> {
    // A database index past the server's fails every Future with the reason (see Outbox's flush).
    await checkDatabase(this.#redis, this.#connection, 'RedisExecutor');
    const eventsKey = `${this.#prefix}:${this.#queueName}:events`;
    const from = await streamEnd(this.#redis, eventsKey);
    const client = this.#eventsClient;
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    // A worker starts a task of ours only once we answer (see #tell): so the Future is
    // RUNNING before the task can have done anything, and cancel() answers false for it,
    // as for a local pool. The worker also tells us it has the job; unanswered, it asks
    // again, and goes on without us only once our lease is gone (see lease.ts).
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
      if (ev.event === 'completed') this.#packs.ended(ev.jobId, pack, ev.value, undefined);
      else if (ev.event === 'failed') this.#packs.ended(ev.jobId, pack, undefined, ev.value ?? 'unknown');
      else if (ev.event === 'removed') this.#packs.gone(ev.jobId, pack, `was removed from queue ${this.#queueName} before it finished`);
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
        this.#ended(e, true, value);
        break;
      case 'failed':
        this.#ended(e, false, value);
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
    const entry = newEntry(id, future, task, mode, encoded, options, this.#keepFinished);
    if (options.signal !== undefined) {
      const signal = options.signal;
      entry.onAbort = () => this.#abort(entry, signal.reason);
      onAbort(signal, entry.onAbort);
    }
    this.#pending.set(id, entry);
    this.#outbox.push(entry);
    return future;
  }

  /**
   * The job of `e` alone ended, as its event or its hash says: `value` is its returnvalue
   * when it `completed`, else its failedReason. Its Future settles, and its records go.
   */
  #ended(e: Entry, completed: boolean, value: string | undefined): void {
    if (completed) {
      const outcome = completedOutcome(this.#key, this.#queueName, e.jobId, value, e.task);
      // How long the task ran: what decides whether its later Futures go in packs.
      if (outcome.ok && outcome.ms !== undefined) {
        this.#times.record(e.times, outcome.ms);
        this.#timed();
      }
      this.#settle(e, outcome);
    } else {
      this.#settle(e, { ok: false, error: readFailure(this.#key, this.#queueName, e.jobId, value ?? 'unknown', e.task) });
    }
    this.#removals.forget(e.jobId);
  }

  #timed(): void {
    this.#outbox.timed();
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
   * When the lease may have lapsed (no renewal got through lately), a worker holding a job
   * of ours may find it gone before we are back and start its task: every Future whose job
   * has gone to Redis and is still PENDING goes RUNNING now, before Redis can expire the
   * key, so cancel() answers false for it as for a started task. Asked by the lapse timer,
   * and by cancel() itself, in case that timer is late.
   */
  #ifLapsed(): void {
    if (this.#lease.holds() || this.#lease.ended) return;
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
      else this.#chore(this.#packs.markWithdrawn(e.jobId, e.id));
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

  /** Removes a job that waits; a job that runs is told to stop (see Removals.withdrawJob). */
  async #withdraw(jobId: string): Promise<void> {
    if (await this.#removals.withdrawJob(jobId)) this.#packs.drop(jobId);
  }

  /** A job of `e` is no longer in Redis, as the sweep found: its Futures fail, saying so. */
  #gone(jobId: string, e: Entry): void {
    const why = `is no longer in queue ${this.#queueName} (removed, or expired before its result was read)`;
    const pack = this.#packs.get(jobId);
    if (pack !== undefined) this.#packs.gone(jobId, pack, why);
    else if (this.#pending.has(e.id) && e.jobId === jobId) this.#settle(e, { ok: false, error: new Error(`job ${e.id} (${e.task}) ${why}`) });
  }

  #chore(p: Promise<unknown>): void {
    this.#chores.add(p);
    void p.finally(() => this.#chores.delete(p));
  }

  #checkIdle(): void {
    // Nothing left to send: a #flush waiting for the lease ends (shutdown waits for it).
    if (this.#pending.size === 0) this.#lease.wakeAll();
    if (this.#pending.size === 0 && this.#onIdle !== undefined) {
      const done = this.#onIdle;
      this.#onIdle = undefined;
      done();
    }
  }

  /** Live counts and the submit-to-result latency. */
  stats(): RedisExecutorStats {
    const h = this.#latency;
    return {
      ...countEntries(this.#pending.values()),
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
      // No Future of ours is left. What remains (the settled jobs' records, withdrawals, the
      // start) needs Redis: it is waited for while Redis answers, and given up when it does
      // not, so that a shutdown never hangs on a Redis that is down or was never there.
      const offline = untilOffline(this.#redis);
      await Promise.race([
        (async () => {
          // The settled jobs' records go now, without waiting for the timer.
          await this.#removals.close();
          while (this.#chores.size > 0) await Promise.allSettled([...this.#chores]);
          await this.#ready.catch(() => {});
        })(),
        offline.promise,
      ]);
      offline.cancel();
      this.#sweeper.stop();
      this.#stopping = true;
      this.#lease.end();
      this.#eventsClient.disconnect(); // ends a blocked XREAD at once
      this.#startedClient.disconnect();
      if (this.#redis.status === 'ready') {
        // Workers need not wait for us.
        await Promise.allSettled([this.#queue.close(), this.#lease.release(), this.#redis.quit()]);
      } else {
        // Commands would wait for a reconnection; the lease expires by itself.
        this.#redis.disconnect();
        await this.#queue.close().catch(() => {});
      }
    })();
    return this.#closed;
  }
}
