import { AsyncLocalStorage } from 'node:async_hooks';
import { Full, TimeoutError } from '../futures/errors.js';
import { BaseExecutor, checkInteger, type ShutdownOptions, type TaskFunction, type TaskOptions } from '../futures/executor.js';
import { describe, Future } from '../futures/future.js';
import { CALL, CHUNK_ITEMS, type TaskMode } from '../futures/task-mode.js';
import { unwrapTransfer } from '../transport/transfer.js';
import { Deque } from '../util/deque.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';
import { offAbort, onAbort } from '../util/abort.js';
import { isWithin, refusedSelfWait } from '../util/self-wait.js';

/** Options of an AsyncExecutor. */
export interface AsyncExecutorOptions {
  /** Most tasks running at once. @default Infinity */
  maxConcurrency?: number;
  /** Most tasks waiting for a free slot; past it `submit` returns a Future failed with `Full`. @default unlimited */
  maxQueue?: number;
}

/**
 * What stops a task like an aborted `signal`, without one: for RedisWorker, whose jobs'
 * stops are cheaper than an AbortSignal each (see its JobStop). Not exported by the package.
 */
export interface TaskStop {
  /** True once stopped. */
  readonly aborted: boolean;
  /** Why it was stopped. */
  readonly reason: unknown;
  /** Calls `fn` when it stops (at once if it has). */
  onAbort(fn: () => void): void;
}

/**
 * The TaskOptions key of a TaskStop: the task ends early when it stops, as with an aborted
 * `signal` (its Future fails, its slot is freed), but it gets no taskSignal(), sparing the
 * AsyncLocalStorage that slows every promise in the process. Not exported by the package.
 */
export const STOPPED_BY = Symbol('concur.stoppedBy');

/** TaskOptions with a TaskStop. */
export type StoppableTaskOptions = TaskOptions & { [STOPPED_BY]?: TaskStop };

interface Job {
  readonly future: Future<unknown>;
  readonly fn: TaskFunction;
  readonly args: unknown[];
  readonly mode: TaskMode;
  readonly options: TaskOptions;
  retriesLeft: number;
  started: boolean;
  /** The current run's token while the job holds a slot; a settling run that is not it was abandoned. */
  run: object | undefined;
  /** The current run's taskSignal(), for a job with a timeout or a signal. */
  controller: AbortController | undefined;
  timer: LongTimeout | undefined;
  onAbort: (() => void) | undefined;
  /** The current run's settling (the then() on its task's promise), awaited by #watch once a shutdown looks for tasks. */
  settled: Promise<void> | undefined;
  watched: boolean;
}

const taskContext = new AsyncLocalStorage<AbortSignal>();

/**
 * How long tasks may be started back to back within one turn of the event loop, in ms.
 * Each queued task starts from the settlement of the one before: with synchronous tasks
 * that is one unbroken chain of microtasks, in which no signal handler, timer or I/O
 * callback runs (Ctrl-C would wait for the whole queue). Past this, the next start waits
 * for the next turn.
 */
const SLICE_MS = 8;

/**
 * The AbortSignal of the AsyncExecutor task this code runs in, when it was submitted
 * with a timeout or a signal. A coroutine cannot be stopped from outside, so a task
 * that should end early on a timeout checks or listens to this.
 */
export function taskSignal(): AbortSignal | undefined {
  return taskContext.getStore();
}

/**
 * Runs async (or sync) functions in this thread, at most `maxConcurrency` at a time:
 * the Executor API for I/O-bound work, where a thread or process would only add cost.
 * A running task that times out or is aborted cannot be stopped: its Future fails at
 * once, its slot goes to the next task, and the coroutine, told through taskSignal(), is
 * abandoned (counted in `abandoned` until it settles; `shutdown` does not wait for it).
 */
export class AsyncExecutor extends BaseExecutor {
  readonly #max: number;
  readonly #maxQueue: number;
  readonly #queue = new Deque<Job>();
  #running = 0;
  #abandoned = 0;
  #onIdle: (() => void) | undefined;
  #closed: Promise<void> | undefined;
  /** When this turn's slice of starts ends (performance.now()); undefined until a task starts in this turn. */
  #sliceEnds: number | undefined;
  /** Counts slices: a reset armed by one slice leaves a later one alone. */
  #slice = 0;
  /** The slice ran out: starts wait for the setImmediate that resumes the queue. */
  #resuming = false;
  /** The jobs whose runs hold a slot (not the abandoned ones): those a waiting shutdown waits for. */
  readonly #live = new Set<Job>();

  constructor(options: AsyncExecutorOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError(`AsyncExecutor options must be an object, got ${describe(options)}`);
    for (const key of Object.keys(options)) {
      if (key !== 'maxConcurrency' && key !== 'maxQueue') throw new TypeError(`AsyncExecutor: unknown option "${key}"`);
    }
    if (options.maxConcurrency !== Infinity) checkInteger('maxConcurrency', options.maxConcurrency, 1);
    if (options.maxQueue !== Infinity) checkInteger('maxQueue', options.maxQueue, 1);
    this.#max = options.maxConcurrency ?? Infinity;
    this.#maxQueue = options.maxQueue ?? Infinity;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks ended early (a timeout, an abort) whose coroutines still run: they hold no slot and nothing waits for them. */
  get abandoned(): number {
    return this.#abandoned;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  protected schedule(fn: TaskFunction, args: unknown[], options: TaskOptions, mode: TaskMode): Future<unknown> {
    const future = new Future<unknown>();
    const stoppedBy = (options as StoppableTaskOptions)[STOPPED_BY];
    const stopped = options.signal?.aborted ? options.signal : stoppedBy?.aborted ? stoppedBy : undefined;
    if (stopped !== undefined) {
      future.setException(stopped.reason);
      return future;
    }
    if (this.#queue.length >= this.#maxQueue && this.#running >= this.#max && this.#queuedLive() >= this.#maxQueue) {
      future.setException(new Full(`task queue is full: ${this.#maxQueue} tasks already wait for a slot (maxQueue)`));
      return future;
    }
    const job: Job = {
      future,
      fn,
      args,
      mode,
      options,
      retriesLeft: options.retries ?? 0,
      started: false,
      run: undefined,
      controller: undefined,
      timer: undefined,
      onAbort: undefined,
      settled: undefined,
      watched: false,
    };
    const signal = options.signal;
    if (signal !== undefined) {
      job.onAbort = () => this.#end(job, signal.reason);
      onAbort(signal, job.onAbort);
      // A Future cancelled while queued waits there until a slot reaches it: it stops
      // listening now, or a long queue under one long-lived signal would hold it meanwhile.
      future.addDoneCallback(() => {
        if (future.cancelled()) this.#detach(job);
      });
    }
    // Not ahead of the queue: it holds jobs while running < max when a slice ran out.
    if (this.#running < this.#max && this.#queue.length === 0 && this.#mayStartNow()) this.#start(job);
    else this.#queue.push(job);
    // After it is placed: a stop now finds it queued or running.
    stoppedBy?.onAbort(() => this.#end(job, stoppedBy.reason));
    return future;
  }

  #start(job: Job): void {
    if (!job.started) {
      job.started = true;
      if (!job.future.setRunningOrNotifyCancel()) {
        this.#detach(job);
        return;
      }
    }
    this.#running++;
    const run = {};
    job.run = run;
    const { timeout, signal } = job.options;
    if (timeout !== undefined || signal !== undefined) job.controller = new AbortController();
    if (timeout !== undefined) {
      job.timer = setLongTimeout(
        () => this.#end(job, new TimeoutError(`task ${job.fn.name || '<anonymous>'} timed out after ${timeout} ms`), true),
        timeout,
      );
    }
    // Live before it is called: a task that calls shutdown() before its first await is
    // one of them (shutdown looks for it on the stack), even when it is the only one.
    this.#live.add(job);
    job.settled = undefined;
    let result: Promise<unknown>;
    try {
      const value = job.controller ? taskContext.run(job.controller.signal, () => this.#callTask(job)) : this.#callTask(job);
      result = Promise.resolve(value);
    } catch (err) {
      result = Promise.reject(err);
    }
    job.settled = result.then(
      (value) => this.#settle(job, run, true, value),
      (error) => this.#settle(job, run, false, error),
    );
    job.watched = false;
  }

  /** Calls a job's function: shutdown() finds it on the stack of a task's synchronous start (see isWithin). */
  readonly #callTask = (job: Job): unknown => (job.mode === CALL ? job.fn(...job.args) : runChunk(job.fn, job.args, job.mode === CHUNK_ITEMS));

  /**
   * Awaits a run's settling. Attached to the running jobs only when a waiting shutdown
   * looks for its caller, it is what V8's async stack trace then reaches from the code of
   * any of those tasks (the task's promise, the then() on it, this await), at no cost to
   * tasks meanwhile; an async runner around every task cost up to a fifth of a tiny task.
   * It rethrows what the settling threw, as the then() alone would have.
   */
  readonly #watch = async (settled: Promise<void>): Promise<void> => {
    await settled;
  };

  #settle(job: Job, run: object, ok: boolean, value: unknown): void {
    if (run !== job.run) {
      // A run ended early gave up its slot then; what it settles with now goes nowhere.
      this.#abandoned--;
      return;
    }
    job.run = undefined;
    job.controller = undefined;
    this.#live.delete(job);
    this.#finishRun(job);
    if (job.future.done()) {
      this.#detach(job);
    } else if (ok) {
      this.#detach(job);
      // transfer() only matters across a boundary; here the value is handed over as is.
      const moved = unwrapTransfer(value);
      job.future.setResult(moved === undefined ? value : moved.value);
    } else if (job.retriesLeft > 0) {
      job.retriesLeft--;
      this.#queue.unshift(job);
    } else {
      this.#detach(job);
      job.future.setException(value);
    }
    this.#next();
  }

  /** Ends a job early (abort or timeout): out of the queue, or its slot freed and its signal aborted. */
  #end(job: Job, reason: unknown, retryable = false): void {
    if (job.future.done()) return;
    if (job.run !== undefined) {
      // Running: a coroutine cannot be stopped, so tell it through taskSignal(), free its slot, and leave it.
      job.controller?.abort(reason);
      job.controller = undefined;
      job.run = undefined;
      this.#live.delete(job);
      this.#abandoned++;
      this.#finishRun(job);
    } else {
      this.#queue.removeFirst((x) => x === job);
    }
    if (retryable && job.retriesLeft > 0) {
      job.retriesLeft--;
      this.#queue.unshift(job);
    } else {
      this.#detach(job);
      if (!job.started) {
        job.started = true;
        job.future.setRunningOrNotifyCancel();
      }
      if (!job.future.done()) job.future.setException(reason);
    }
    this.#next();
  }

  /**
   * How many jobs wait for a slot once the cancelled ones are taken out of the queue
   * (they wait nowhere, and must not fill `maxQueue`). O(n): for a queue at its bound.
   */
  #queuedLive(): number {
    return this.#queue.retain(
      (job) => job.started || !job.future.cancelled(),
      (job) => {
        job.started = true;
        job.future.setRunningOrNotifyCancel();
        this.#detach(job);
      },
    );
  }

  #finishRun(job: Job): void {
    job.timer?.clear();
    job.timer = undefined;
    this.#running--;
  }

  #detach(job: Job): void {
    if (job.onAbort !== undefined) offAbort(job.options.signal!, job.onAbort);
    job.onAbort = undefined;
  }

  /**
   * True while this turn of the event loop has time left for starting tasks (see SLICE_MS);
   * false once it ran out, after arranging for the queue to resume in the next turn.
   */
  #mayStartNow(): boolean {
    if (this.#resuming) return false;
    const now = performance.now();
    if (this.#sliceEnds === undefined) {
      this.#sliceEnds = now + SLICE_MS;
      // Once the loop turns, the next turn gets a fresh slice: a task submitted from a timer
      // or a callback still starts at once. The loop may reach its timers before its
      // immediates (a slice begun in an immediate), hence both.
      const slice = ++this.#slice;
      const reset = (): void => {
        if (this.#slice === slice) this.#sliceEnds = undefined;
      };
      setImmediate(reset);
      setTimeout(reset, 0);
      return true;
    }
    if (now < this.#sliceEnds) return true;
    this.#resuming = true;
    setImmediate(() => {
      this.#resuming = false;
      this.#next();
    });
    return false;
  }

  #next(): void {
    while (this.#running < this.#max && this.#queue.length > 0 && this.#mayStartNow()) this.#start(this.#queue.shift()!);
    if (this.#running === 0 && this.#queue.length === 0 && this.#onIdle) {
      const done = this.#onIdle;
      this.#onIdle = undefined;
      done();
    }
  }

  /**
   * As the base's, except that a waiting shutdown called from inside one of this
   * executor's running tasks would wait for that task, which waits for it: it shuts the
   * executor down all the same (no new tasks; the others run to their end) and returns a
   * promise rejected with an Error saying so, as Python's Thread.join() of the current
   * thread raises. The rejection is handled already: a task that calls shutdown() without
   * awaiting it is not waiting, and loses nothing. A task abandoned after a timeout, which
   * the shutdown does not wait for, may wait.
   */
  override shutdown(options: ShutdownOptions = {}): Promise<void> {
    const done = super.shutdown(options);
    if (!(options.wait ?? true) || this.#live.size === 0 || !this.#calledFromTask()) return done;
    return refusedSelfWait(
      'AsyncExecutor.shutdown() with wait was called from inside one of its own tasks: it waits for every task to finish, that one included, ' +
      'which would wait for itself for ever. Inside a task, call shutdown({ wait: false }) (the executor still finishes every task) and wait from outside',
    );
  }

  /** True when the running code is one of the live tasks, in its synchronous start or anywhere down its chain of awaits. */
  #calledFromTask(): boolean {
    for (const job of this.#live) {
      // One still in its synchronous start has no settling yet: the stack shows it.
      if (!job.watched && job.settled !== undefined) {
        job.watched = true;
        void this.#watch(job.settled!);
      }
    }
    return isWithin(this.#callTask, this.#watch);
  }

  protected doShutdown(options: Required<ShutdownOptions>): Promise<void> {
    if (options.cancelFutures) {
      for (const job of this.#queue.drain()) {
        if (job.started || !job.future.cancel()) this.#queue.push(job);
        else this.#detach(job);
      }
    }
    this.#closed ??= new Promise<void>((resolve) => {
      this.#onIdle = resolve;
      this.#next();
    });
    return this.#closed;
  }
}

async function runChunk(fn: TaskFunction, chunk: unknown[], items: boolean): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const x of chunk) out.push(await (items ? fn(x) : fn(...(x as unknown[]))));
  return out;
}
