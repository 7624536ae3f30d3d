/**
 * RedisWorker: serves a BullMQ queue through a local concur pool.
 *
 *   BullMQ Worker (this thread: fetches jobs, renews their locks)
 *     └─ processor(job): check version + signature ─▶ resolve the task by its portable
 *        path among our --tasks modules ─▶ pool.submitWith({ timeout, signal }, runJob)
 *                                               └─ a pool worker: decode, run, encode
 *   abort channel (pub/sub) ─▶ the job's JobStop ─▶ the pool stops the task (or abandons the coroutine)
 *
 * A pack of tiny tasks (packs.ts) is one job: its members run in one pool task (pack-run.ts).
 *
 * A task starts only once the job's executor has its Future RUNNING: the worker asks it
 * as BullMQ fetches the job, and waits for its go (see announcements.ts).
 *
 * The task runs in a pool worker, so this thread stays free to renew locks however long
 * a CPU-bound task computes (with pool 'async' the task shares this thread: a task that
 * blocks it for longer than lockDuration loses its lock and runs again elsewhere). A
 * timeout or a crash ends only the pool worker, which the pool replaces: it fails that
 * job, nothing else. A worker process that dies leaves its jobs locked until the lock
 * expires; another worker's stalled check then moves them back to wait.
 */
import { availableParallelism, hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { AsyncExecutor } from '../coroutines/async-executor.js';
import { AuthenticationError, BrokenExecutorError, CancelledError, TimeoutError } from '../futures/errors.js';
import { checkInteger, type Executor } from '../futures/executor.js';
import { checkTimeout, describe } from '../futures/future.js';
import type { PoolStats } from '../pool/pool-types.js';
import { ProcessPoolExecutor } from '../processes/process-pool.js';
import { ThreadPoolExecutor } from '../threads/thread-pool.js';
import { bullConnection, checkDatabase, checkQueueName, newClient, resolveConnection, showConnection, type RedisConnection } from './connection.js';
import { Announcements, type Announcement } from './announcements.js';
import { abortChannel, goChannel } from './events.js';
import { ensureTypeScript, isTypeScriptModule } from '../tasks/typescript.js';
import { redisJobTasks } from './job-task.js';
import { TaskIndex } from './names.js';
import { checkJob, failureText, loadKey, makeResult, type ResultData } from './wire.js';
import { HereRunner, JobStop, nameTheTask, taskHere, taskLabel, warnOfLeftCoroutines } from './worker-util.js';
import { checkPack, isPack, type PackResultData } from './packs.js';
import { runPack } from './pack-run.js';
import { KNOWN, type RedisPoolKind, type RedisWorkerOptions, type RedisWorkerStats } from './worker-types.js';

export type { RedisPoolKind, RedisWorkerOptions, RedisWorkerStats };

/**
 * Preloaded in the pool's processes: Ctrl-C in a terminal, or a service manager that
 * signals the whole process group, reaches them too, and would kill the jobs that the
 * worker is letting finish. The worker decides when they end: the pool stops them with
 * SIGKILL (a timeout, the worker's exit), and they SIGKILL themselves when it dies.
 */
const IGNORE_STOP_SIGNALS = `data:text/javascript,${encodeURIComponent("process.on('SIGINT', () => {}); process.on('SIGTERM', () => {});")}`;

/**
 * Stops what BullMQ's close would stop once the running jobs were done, for a close that
 * gave up waiting for them: the lock renewal timer and the stalled check. Left running,
 * they hold the program's event loop open for ever while Redis does not answer. They
 * are not BullMQ's public API, so each is stopped only if it is there.
 */
function stopTimers(worker: Worker): void {
  const inner = worker as unknown as { lockManager?: { close?(): unknown }; stalledCheckStopper?: () => void };
  try {
    void Promise.resolve(inner.lockManager?.close?.()).catch(() => {});
    inner.stalledCheckStopper?.();
  } catch {
    // what is not there has nothing to stop
  }
}

/** Serves a Redis queue's jobs through a local pool; made by `RedisWorker.start`. */
export class RedisWorker {
  readonly #options: Required<Pick<RedisWorkerOptions, 'queue' | 'prefix' | 'closeTimeout' | 'name' | 'allowInline'>>;
  readonly #key: Buffer;
  readonly #index: TaskIndex;
  readonly #pool: Executor & { stats?: () => PoolStats };
  /** The pool, when it is 'async'. */
  readonly #coroutines: AsyncExecutor | undefined;
  readonly #concurrency: number;
  readonly #worker: Worker;
  readonly #subscriber: Redis;
  readonly #publisher: Redis;
  readonly #connection: RedisConnection;
  /** The jobs in #process, and how each is stopped. */
  readonly #stops = new Map<string, JobStop>();
  /** Jobs told to stop before they started here (the abort can beat the job's start). */
  readonly #aborted = new Map<string, number>();
  readonly #announced: Announcements;
  readonly #subscribed: Promise<unknown>;
  #running = 0;
  /** Coroutines run in this thread (pool 'async', no timeout). */
  readonly #here = new HereRunner();
  #completed = 0;
  #failed = 0;
  #closing: Promise<void> | undefined;
  #broken: BrokenExecutorError | undefined;
  #onClosed!: () => void;
  readonly #closed = new Promise<void>((resolve) => (this.#onClosed = resolve));

  private constructor(options: RedisWorkerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`RedisWorker options must be an object, got ${describe(options)}`);
    for (const k of Object.keys(options)) if (!KNOWN.has(k)) throw new TypeError(`RedisWorker: unknown option "${k}"`);
    const queue = checkQueueName(options.queue, 'RedisWorker');
    const connection = resolveConnection(options.connection, 'RedisWorker');
    this.#connection = connection;
    if (!Array.isArray(options.tasks) || options.tasks.length === 0) {
      throw new TypeError(`RedisWorker: tasks must be a non-empty array of task module paths, got ${describe(options.tasks)}`);
    }
    const kind = options.pool ?? 'process';
    if (kind !== 'process' && kind !== 'thread' && kind !== 'async') {
      throw new TypeError(`RedisWorker: pool must be 'process', 'thread' or 'async', got ${describe(options.pool)}`);
    }
    checkInteger('workers', options.workers, 1);
    checkInteger('lockDuration', options.lockDuration, 100);
    checkInteger('stalledInterval', options.stalledInterval, 50);
    checkInteger('maxStalledCount', options.maxStalledCount, 0);
    checkTimeout(options.closeTimeout, 'closeTimeout');
    checkTimeout(options.startTimeout, 'startTimeout');
    const workers = options.workers ?? (kind === 'async' ? 64 : availableParallelism());
    const lockDuration = options.lockDuration ?? 5000;
    this.#options = {
      queue,
      prefix: options.prefix ?? 'bull',
      closeTimeout: options.closeTimeout ?? 30_000,
      name: options.name ?? `${hostname()}:${process.pid}`,
      allowInline: options.allowInline === true,
    };
    this.#key = loadKey(options, 'RedisWorker');
    this.#index = new TaskIndex(options.tasks);
    this.#concurrency = workers;
    this.#coroutines = kind === 'async' ? new AsyncExecutor({ maxConcurrency: workers }) : undefined;
    this.#pool =
      kind === 'process'
        ? new ProcessPoolExecutor({ maxWorkers: workers, execArgv: [...process.execArgv, '--import', IGNORE_STOP_SIGNALS] })
        : kind === 'thread'
          ? new ThreadPoolExecutor({ maxWorkers: workers })
          : this.#coroutines!;

    this.#subscriber = newClient(connection);
    this.#publisher = newClient(connection);
    const aborts = abortChannel(this.#options.prefix, queue);
    this.#subscriber.on('message', (channel: string, message: string) => (channel === aborts ? this.#onAbort(message) : this.#announced.onAnswer(message)));
    // Aborts and answers come on one connection, in the order Redis took them.
    this.#subscribed = this.#subscriber.subscribe(aborts, goChannel(this.#options.prefix, queue));
    this.#subscribed.catch(() => {});
    this.#announced = new Announcements(this.#options.prefix, queue, this.#publisher, this.#subscriber);

    // Two parameters: BullMQ makes an AbortController per job for a processor that takes a
    // third; the aborts come to #stops instead (see JobStop).
    this.#worker = new Worker(queue, (job: Job) => this.#process(job), {
      connection: bullConnection(connection, { maxRetriesPerRequest: null }),
      prefix: this.#options.prefix,
      concurrency: workers,
      lockDuration,
      stalledInterval: options.stalledInterval ?? 1000,
      maxStalledCount: options.maxStalledCount ?? 1,
      name: this.#options.name,
      autorun: false,
    });
    this.#worker.on('error', () => {}); // connection trouble: BullMQ reconnects and goes on
    // BullMQ emits 'active' as soon as moveToActive has given it a job, a few promise
    // turns before it calls the processor: the announcement goes out then, and its round
    // trip overlaps those turns and the job's checks in #process.
    this.#worker.on('active', (job: Job) => {
      if (job.id !== undefined) this.#announced.announce(job.id);
    });
  }

  /** Starts serving `options.queue`; resolves once connected to Redis. */
  static async start(options: RedisWorkerOptions): Promise<RedisWorker> {
    const w = new RedisWorker(options);
    const startTimeout = options.startTimeout ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`RedisWorker: cannot reach Redis at ${showConnection(w.#connection)} within ${startTimeout} ms`)),
        startTimeout,
      );
    });
    try {
      // Subscribed before the first job: an answer sent before would be lost (and come a second later, asked again).
      const ready = Promise.all([w.#worker.waitUntilReady(), w.#subscribed, checkDatabase(w.#publisher, w.#connection, 'RedisWorker')]);
      // The modules load meanwhile, within a startTimeout of their own.
      await Promise.all([w.#checkModules(startTimeout), Promise.race([ready, late])]);
    } catch (err) {
      clearTimeout(timer);
      await w.#abandon();
      throw err;
    }
    clearTimeout(timer);
    void w.#worker.run().catch(() => {});
    return w;
  }

  /**
   * Loads the task modules where the tasks will run (a pool worker, or this thread), so
   * that one that cannot load here (a missing dependency, a syntax error) stops the start
   * with its reason, rather than failing every job this worker would take.
   */
  async #checkModules(timeout: number): Promise<void> {
    const modules = this.#index.modules;
    const slow = (): Error => new Error(`RedisWorker: task module ${this.#index.shown.join(' or ')} did not finish loading within ${timeout} ms`);
    if (this.#coroutines === undefined) {
      // A module whose import never ends (a top-level await on nothing) would hold the start for ever.
      const loaded = this.#pool.submitWith({ timeout }, redisJobTasks.loadModules, modules);
      const err = await loaded.exception();
      if (err instanceof TimeoutError) throw slow();
      if (err !== undefined) throw err;
      RedisWorker.#checkDefined(await loaded.result());
      return;
    }
    // This thread runs the tasks: it needs a TypeScript loader for .ts modules, which a
    // pool worker gets by itself (see ensureTypeScript).
    for (const module of modules) if (isTypeScriptModule(module)) await ensureTypeScript(module);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(slow()), timeout);
    });
    try {
      RedisWorker.#checkDefined(await Promise.race([redisJobTasks.loadModules(modules), late]));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Refuses task modules that loaded but defined no tasks (a helper named by mistake, a
   * module that forgot defineTasks): every job from them would fail with TaskNotFoundError.
   */
  static #checkDefined(empty: readonly string[]): void {
    if (empty.length === 0) return;
    const names = empty.map((url) => fileURLToPath(url)).join(', ');
    throw new TypeError(
      `RedisWorker: task module${empty.length > 1 ? 's' : ''} ${names} define${empty.length > 1 ? '' : 's'} no tasks: define them with defineTasks(import.meta.url, { ... }) in the module given to the worker`,
    );
  }

  /** Closes what the constructor opened, for a start that failed. */
  async #abandon(): Promise<void> {
    this.#announced.close();
    this.#subscriber.disconnect();
    this.#publisher.disconnect();
    await Promise.allSettled([this.#worker.close(true), this.#pool.shutdown({ wait: false, cancelFutures: true })]);
  }

  /** Jobs it runs at once. */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** This worker's name (host:pid unless given). */
  get name(): string {
    return this.#options.name;
  }

  /** The portable paths of the task modules it serves. */
  get tasks(): readonly string[] {
    return this.#index.shown;
  }

  /** Live counters. */
  stats(): RedisWorkerStats {
    return { running: this.#running, completed: this.#completed, failed: this.#failed, pool: this.#pool.stats?.(), abandoned: (this.#coroutines?.abandoned ?? 0) + this.#here.abandoned };
  }

  #onAbort(jobId: string): void {
    const stop = this.#stops.get(jobId);
    if (stop !== undefined) stop.abort('aborted by its executor');
    else {
      const now = Date.now();
      this.#aborted.set(jobId, now);
      for (const [id, at] of this.#aborted) if (now - at > 60_000) this.#aborted.delete(id);
    }
  }

  /** Refusals and aborts are final: no retry would change them. */
  #refuse(jobId: string, error: unknown): UnrecoverableError {
    return new UnrecoverableError(failureText(this.#key, this.#options.queue, jobId, error));
  }

  async #process(job: Job): Promise<ResultData | PackResultData> {
    const id = job.id!;
    const announced = this.#announced.of(id);
    const stop = new JobStop();
    this.#stops.set(id, stop);
    try {
      return isPack(job.data) ? await this.#runPack(job, id, announced, stop) : await this.#run(job, id, announced, stop);
    } finally {
      if (this.#stops.get(id) === stop) this.#stops.delete(id);
      this.#announced.done(id, announced);
    }
  }

  async #run(job: Job, id: string, announced: Announcement, stop: JobStop): Promise<ResultData> {
    const { queue, name } = this.#options;
    const data = checkJob(this.#key, queue, id, job.data);
    if (typeof data === 'string') {
      this.#failed++;
      throw this.#refuse(id, new AuthenticationError(`${data} (worker ${name})`));
    }
    if (this.#aborted.delete(id)) {
      this.#failed++;
      throw this.#refuse(id, new CancelledError(`job ${id} was aborted by its executor`));
    }
    const task = data.task;
    const spec = taskHere(this.#index, this.#options, task);
    if (spec instanceof Error) {
      this.#failed++;
      throw this.#refuse(id, spec);
    }
    // The executor has the Future RUNNING before the task starts (see RedisExecutor), so
    // a cancel() there never mistakes it for waiting. An executor that said no, or an
    // abort that came while the announcement was on its way: the task has not started,
    // so it does not (a coroutine could not be stopped once started).
    const answer = this.#announced.answerOf(announced, stop);
    const go = typeof answer === 'boolean' ? answer : await answer;
    if (!go || stop.aborted || this.#aborted.delete(id)) {
      this.#failed++;
      throw this.#refuse(id, new CancelledError(`job ${id} was aborted by its executor`));
    }
    this.#running++;
    try {
      const [encoded, ms] = await this.#submit(stop, data.timeout, redisJobTasks.runJob, spec, data.args, data.mode);
      this.#completed++;
      return makeResult(this.#key, queue, id, encoded, ms);
    } catch (err) {
      this.#failed++;
      nameTheTask(err, taskLabel(this.#options.name, task));
      throw this.#failure(id, err, stop);
    } finally {
      this.#running--;
    }
  }

  /** A pack's members, each to its own outcome (see pack-run.ts). */
  async #runPack(job: Job, id: string, announced: Announcement, stop: JobStop): Promise<PackResultData> {
    const { queue, name } = this.#options;
    const members = checkPack(this.#key, queue, id, job.data);
    if (typeof members === 'string') {
      this.#failed++;
      throw this.#refuse(id, new AuthenticationError(`${members} (worker ${name})`));
    }
    const go = !this.#aborted.delete(id) && (await this.#announced.answerOf(announced, stop));
    if (!go || stop.aborted || this.#aborted.delete(id)) {
      this.#failed += members.length;
      throw this.#refuse(id, new CancelledError(`job ${id} was aborted by its executor`));
    }
    // Gone on without an answer (the executor's lease is gone): members it wrote down as
    // withdrawn, their cancel not answered to us, do not start either.
    const skip = announced.unleased ? await this.#announced.withdrawnOf(members.map((m) => m.id)) : announced.skip;
    this.#running += members.length;
    try {
      const result = await runPack(
        {
          key: this.#key,
          queue,
          specOf: (task) => taskHere(this.#index, this.#options, task),
          label: (task) => taskLabel(this.#options.name, task),
          stopped: () => stop.aborted,
          submit: (fn, ...args) => this.#submit(stop, null, fn, ...args),
        },
        id,
        members,
        skip,
      );
      this.#completed += result.completed;
      this.#failed += members.length - result.completed;
      return result.data;
    } catch (err) {
      this.#failed += members.length;
      throw this.#failure(id, err, stop);
    } finally {
      this.#running -= members.length;
    }
  }

  /** Runs `fn` in the pool, stopped by `stop`, within `timeout` ms (null: none). */
  #submit<A extends unknown[], R>(stop: JobStop, timeout: number | null, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
    if (this.#coroutines !== undefined && timeout === null) return this.#here.run(stop, fn, args);
    return this.#pool.submitWith({ timeout: timeout ?? undefined, signal: stop.signal }, fn, ...args) as Promise<R>;
  }

  /** What a job that failed in the pool reports; a broken pool closes this worker. */
  #failure(id: string, err: unknown, stop: JobStop): Error {
    if (err instanceof BrokenExecutorError && this.#broken === undefined) {
      // Every later job would fail the same way at once: stop taking them, and let
      // the workers that can run them have them.
      this.#broken = err;
      void this.close();
    }
    if (stop.aborted) return this.#refuse(id, err);
    return new Error(failureText(this.#key, this.#options.queue, id, err));
  }



  /**
   * Stops taking jobs and lets the running ones finish, up to `closeTimeout` ms; jobs
   * still running then are left locked, so that they run again on another worker once
   * their lock expires. Then closes the pool and the connections.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const graceful = this.#worker.close();
      graceful.catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.#options.closeTimeout)));
      const timedOut = await Promise.race([graceful.then(() => false), late]);
      clearTimeout(timer);
      if (timedOut) {
        // BullMQ's close waits for the running jobs however it is asked once a graceful
        // close has begun; cutting its connection instead stops their lock renewals, so
        // another worker's stalled check gives them back to the queue. Not by
        // Worker.disconnect: it waits for each connection's 'end' in turn, and a connection
        // already down (Redis unreachable) never gives one (ioredis disconnected while it
        // waits to reconnect emits nothing): the close never ended. A client writes nothing
        // once told to disconnect, so no job's failure gets to Redis after this.
        const { client, blockingClient } = this.#worker.backend;
        for (const c of await Promise.all([client, blockingClient])) c?.disconnect();
        stopTimers(this.#worker);
      }
      this.#announced.close();
      await Promise.allSettled([this.#pool.shutdown({ wait: !timedOut, cancelFutures: true }), this.#subscriber.quit(), this.#publisher.quit()]);
      if (this.#coroutines !== undefined) {
        const pool = this.#coroutines;
        warnOfLeftCoroutines(this.#options.name, pool.abandoned + this.#here.abandoned, timedOut ? pool.running + this.#here.running : 0);
      }
      this.#onClosed();
    })();
    return this.#closing;
  }

  /** Resolves once the worker has closed: by `close()`, or by itself when its pool broke (see `broken`). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Why the worker closed itself: its pool broke (a worker that could not start, say). */
  get broken(): BrokenExecutorError | undefined {
    return this.#broken;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
