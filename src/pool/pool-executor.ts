/**
 * The scheduler every worker pool shares; a subclass only says how to start a worker.
 *
 *   submit ─► Item ─► queue ─► #pump ─► batch ─► worker ─► RESULTS ─► #onResults ─► Future
 *                        ▲        │                 │
 *                        │        └ spawns workers while items wait and no idle worker will take them
 *                        └─────── requeue: items a crashed or killed worker had not run
 *
 * queue     Items not yet sent, in submission order. Their Futures are PENDING, so
 *           they can still be cancelled, and `maxQueue` bounds them.
 * #pump     Sends each ready worker a batch. How many tasks a worker holds is
 *           adaptive: enough for about a millisecond of work (measured from the
 *           workers' own busy time), doubled so the next batch is already there when
 *           one ends. Tiny tasks travel a thousand to a message; long ones one by one,
 *           so they spread over the workers. A task with a timeout or a signal is sent
 *           only to an idle worker and alone, so its clock starts when it starts.
 * worker    Runs its tasks in order (see worker-runtime.ts) and writes the seq of the
 *           task it is in to a shared Int32Array: when it dies, the pool knows which
 *           task killed it. That task fails with WorkerCrashedError; the others it held
 *           go back to the front of the queue, and a replacement starts.
 * broken    A worker that dies before it is ready, a failing initializer or a task
 *           module that cannot load breaks the pool: queued and later Futures fail
 *           with BrokenExecutorError, and no worker is started again.
 */
import { EventEmitter } from 'node:events';
import type { TransferListItem } from 'node:worker_threads';
import { BrokenExecutorError, Full, TimeoutError, WorkerCrashedError } from '../futures/errors.js';
import { BaseExecutor, checkInteger, type ShutdownOptions, type TaskFunction, type TaskOptions } from '../futures/executor.js';
import { checkTimeout, describe, Future } from '../futures/future.js';
import { CALL, CHUNK_ITEMS, type TaskMode } from '../futures/task-mode.js';
import { Connection } from '../transport/pipe.js';
import { isShared } from '../sync/shared.js';
import { packNumbers } from '../transport/numbers.js';
import { specName, specOf, type FunctionSpec } from '../tasks/describe.js';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import {
  CTRL_RESULTS_POSTED,
  CTRL_RUNNING,
  CTRL_SEQ,
  CTRL_SLOTS,
  CTRL_TASKS_POSTED,
  FLAG_CHUNK,
  FLAG_ITEMS,
  INIT_FAILED,
  LOAD_FAILED,
  OK,
  READY,
  RESULT_FIELDS,
  RESULTS,
  RETIRE,
  SEQ_UNKNOWN,
  TASKS,
} from '../transport/protocol.js';
import { Deque } from '../util/deque.js';
import { Histogram } from '../util/histogram.js';
import { raiseMallocThresholds } from '../util/allocator.js';
import type { WorkerInit } from './worker-runtime.js';

/** Options every pool takes. */
export interface PoolOptions {
  /** Most workers at once. @default os.availableParallelism() */
  maxWorkers?: number;
  /** Runs in each worker before its first task (a defineTasks task or a self-contained function). */
  initializer?: TaskFunction;
  /** Arguments for `initializer`. @default [] */
  initargs?: unknown[];
  /** Replace a worker after it has run this many tasks. @default unlimited */
  maxTasksPerWorker?: number;
  /** Stop a worker that has been idle this many milliseconds. @default never */
  idleTimeout?: number;
  /** Most tasks waiting to be sent to a worker; past it `submit` returns a Future failed with `Full`. @default unlimited */
  maxQueue?: number;
}

/** Latency percentiles in microseconds. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** A live snapshot of a pool. */
export interface PoolStats {
  /** Workers alive or starting. */
  workers: number;
  /** Workers holding at least one task. */
  busy: number;
  /** Ready workers with nothing to do. */
  idle: number;
  /** Tasks waiting to be sent to a worker. */
  queued: number;
  /** Tasks that finished with a result. */
  completed: number;
  /** Tasks that finished with an error (their own, a crash, a timeout or an abort). */
  failed: number;
  /** From dispatch to result, in microseconds. */
  runTime: Percentiles;
  /** From submit to dispatch, in microseconds. */
  waitTime: Percentiles;
}

/** What a pool reports as it runs. */
export interface PoolEvents {
  /** A worker finished starting (and its initializer) and takes tasks. */
  workerReady: [info: { workerId: number }];
  /** A worker ended: `expected` is false for a crash. */
  workerExit: [info: { workerId: number; code: number | null; signal: string | null; expected: boolean }];
}

/** The pool's side of one worker. */
export interface WorkerHandle {
  /** Posts one message; throws when it cannot be cloned. */
  post(message: unknown[], transfer: TransferListItem[] | undefined): void;
  /** Takes the worker's next message without the event loop, where the channel allows it. */
  poll?: () => unknown[] | undefined;
  /** Stops the worker; `exit` follows. */
  terminate(): void;
  ref(): void;
  unref(): void;
}

/** What a worker reports to its pool. */
export interface WorkerEvents {
  message(message: unknown[]): void;
  error(error: unknown): void;
  exit(code: number | null, signal: string | null): void;
}

/** A submitted task: its Future and what the scheduler keeps about it, in one object. */
class Item extends Future<unknown> {
  retriesLeft: number;
  seq = 0;
  dispatched = 0;
  started = false;
  slot: Slot | undefined = undefined;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  constructor(
    readonly fnId: number,
    readonly args: unknown[],
    readonly flags: number,
    readonly options: TaskOptions,
    readonly submitted: number,
  ) {
    super();
    this.retriesLeft = options.retries ?? 0;
  }
}

/** A Future that failed before it could be queued. */
function failedFuture(error: unknown): Future<unknown> {
  const f = new Future<unknown>();
  f.setException(error);
  return f;
}

interface Slot {
  readonly id: number;
  readonly handle: WorkerHandle;
  readonly ctrl: Int32Array;
  readonly inflight: Deque<Item>;
  readonly defined: Set<number>;
  ready: boolean;
  exclusive: boolean;
  retiring: boolean;
  expectedExit: boolean;
  exited: boolean;
  referenced: boolean;
  unrefPending: boolean;
  assigned: number;
  error: unknown;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves when the worker has exited. */
  readonly exited$: Promise<void>;
  markExited: () => void;
}

const KNOWN_OPTIONS = new Set(['maxWorkers', 'initializer', 'initargs', 'maxTasksPerWorker', 'idleTimeout', 'maxQueue']);
const TARGET_BATCH_MS = 1;
const MODE_FLAGS = [0, FLAG_CHUNK, FLAG_ITEMS] as const;
const MAX_BATCH = 1024;
const RESULT_SPIN_MS = 0.02; // how long the idle main thread polls for a result it expects soon
const PREFETCH_BELOW_MS = 50; // a function that runs less than this keeps one more task at its worker

/** Checks the options every pool shares; `extra` names the subclass's own. */
export function checkPoolOptions(options: PoolOptions, extra: readonly string[], poolName: string): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${poolName} options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key) && !extra.includes(key)) throw new TypeError(`${poolName}: unknown option "${key}"`);
  }
  checkInteger('maxWorkers', options.maxWorkers, 1);
  checkInteger('maxTasksPerWorker', options.maxTasksPerWorker, 1);
  checkTimeout(options.idleTimeout, 'idleTimeout');
  if (options.maxQueue !== Infinity) checkInteger('maxQueue', options.maxQueue, 1);
  if (options.initializer !== undefined && typeof options.initializer !== 'function') {
    throw new TypeError(`initializer must be a function, got ${describe(options.initializer)}`);
  }
  if (options.initargs !== undefined && !Array.isArray(options.initargs)) {
    throw new TypeError(`initargs must be an array, got ${describe(options.initargs)}`);
  }
}

/** A pool of workers behind the Executor API; subclasses start the workers. */
export abstract class PoolExecutor extends BaseExecutor {
  readonly #maxWorkers: number;
  readonly #maxTasksPerWorker: number;
  readonly #idleTimeout: number | undefined;
  readonly #maxQueue: number;
  readonly #init: Omit<WorkerInit, 'ctrl'>;
  readonly #queue = new Deque<Item>();
  readonly #slots: Slot[] = []; // workers that take or hold tasks
  readonly #alive = new Set<Slot>(); // every worker not yet exited, including those being stopped
  readonly #fnIds = new Map<FunctionSpec, number>();
  readonly #specs: FunctionSpec[] = [];
  #nextSeq = 1;
  #nextWorkerId = 1;
  #warm: Slot | undefined; // the worker that answered last: it is still polling for work
  #pumpScheduled = false;
  #resultSpinScheduled = false;
  #resultSpinScore = 4;
  #resultSpinProbe = 0;
  /** Mean run time of each task function (by fnId), undefined until one has finished: a function's batches size by its own cost. */
  readonly #avgTaskMs: Array<number | undefined> = [];
  #broken: BrokenExecutorError | undefined;
  #closed: Promise<void> | undefined;
  #onIdle: (() => void) | undefined;
  #completed = 0;
  #failed = 0;
  readonly #events = new EventEmitter();
  readonly #runTime = new Histogram();
  readonly #waitTime = new Histogram();

  constructor(options: PoolOptions, defaultWorkers: number) {
    super();
    this.#maxWorkers = options.maxWorkers ?? defaultWorkers;
    this.#maxTasksPerWorker = options.maxTasksPerWorker ?? Infinity;
    this.#idleTimeout = options.idleTimeout;
    this.#maxQueue = options.maxQueue ?? Infinity;
    let initializer: FunctionSpec | undefined;
    if (options.initializer !== undefined) initializer = specOf(options.initializer);
    this.#init = { initializer, initargs: options.initargs ?? [] };
    // Large task messages otherwise fault in fresh pages on every trip (see util/allocator.ts).
    void raiseMallocThresholds();
  }

  /** Starts one worker running worker-runtime with `init`. */
  protected abstract spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle;

  /**
   * Prepares a task's Pipe ends and shared primitives for the trip to a worker: the
   * thread pool moves Pipe ports along; the process pool turns primitives into proxies.
   */
  protected abstract crossArgs(args: unknown[], options: TaskOptions): { args: unknown[]; options: TaskOptions };

  /** What a worker is called in messages: 'thread' or 'process'. */
  protected abstract readonly workerKind: string;

  /** Listens to a pool event: 'workerReady' or 'workerExit'. */
  on<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this {
    this.#events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Listens to the next occurrence of a pool event. */
  once<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this {
    this.#events.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Stops listening. */
  off<E extends keyof PoolEvents>(event: E, listener: (...args: PoolEvents[E]) => void): this {
    this.#events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** As multiprocessing.Pool.map: about four chunks per worker for a known length. */
  protected override autoChunksize(length: number | undefined): number {
    if (length === undefined) return 256;
    return Math.max(1, Math.ceil(length / (4 * this.#maxWorkers)));
  }

  /** The pool's live counters and latency percentiles. */
  stats(): PoolStats {
    let busy = 0;
    let idle = 0;
    for (const s of this.#slots) {
      if (s.inflight.length > 0) busy++;
      else if (s.ready) idle++;
    }
    const pct = (h: Histogram): Percentiles => ({ p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.max });
    return {
      workers: this.#slots.length,
      busy,
      idle,
      queued: this.#queue.length,
      completed: this.#completed,
      failed: this.#failed,
      runTime: pct(this.#runTime),
      waitTime: pct(this.#waitTime),
    };
  }

  protected schedule(fn: TaskFunction, args: unknown[], options: TaskOptions, mode: TaskMode): Future<unknown> {
    if (this.#broken) return failedFuture(this.#broken);
    if (this.#queue.length >= this.#maxQueue) {
      return failedFuture(new Full(`task queue is full: ${this.#maxQueue} tasks already wait for a worker (maxQueue)`));
    }
    let spec: FunctionSpec;
    try {
      spec = specOf(fn);
    } catch (err) {
      return failedFuture(err);
    }
    const signal = options.signal;
    if (signal?.aborted) return failedFuture(signal.reason);
    if (mode === CALL && args.some((a) => a instanceof Connection || isShared(a))) {
      try {
        ({ args, options } = this.crossArgs(args, options));
      } catch (err) {
        return failedFuture(err);
      }
    }
    // A chunk of numbers crosses as their bytes (see transport/numbers.ts).
    if (mode === CHUNK_ITEMS) args = packNumbers(args) as unknown[];
    const item = new Item(this.#fnIdOf(spec), args, MODE_FLAGS[mode], options, performance.now());
    if (signal !== undefined) {
      item.onAbort = () => this.#stop(item, signal.reason, false);
      signal.addEventListener('abort', item.onAbort, { once: true });
    }
    this.#queue.push(item);
    // A lone task with the last worker idle and polling goes now: a microtask later is
    // a measurable part of a 5 us round trip. Several submits in a row still batch.
    this.#schedulePump();
    return item;
  }

  #fnIdOf(spec: FunctionSpec): number {
    let id = this.#fnIds.get(spec);
    if (id === undefined) {
      id = this.#specs.length;
      this.#specs.push(spec);
      this.#fnIds.set(spec, id);
    }
    return id;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // A microtask: a loop of submits becomes one batch, yet a lone submit goes at once.
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    const queue = this.#queue;
    if (this.#broken !== undefined) {
      for (const item of queue.drain()) this.#fail(item, this.#broken);
      return;
    }
    if (queue.length === 0) {
      this.#checkIdle();
      return;
    }
    this.#spawnAsNeeded();
    const slots = this.#slots;
    const n = slots.length;
    let usable = 0;
    for (const s of slots) if (this.#canTake(s)) usable++;
    if (usable === 0) return;
    const limit = this.#batchLimit();
    // Double-buffer tasks known to be short, so the next is there when one ends; a task
    // of a few milliseconds keeps one more in reserve (its round trip to the pool is
    // ~2% of it, as with CPython's one extra queued call); long ones go one at a time,
    // so their successors stay queued, cancellable, and free to go to any worker.
    const avg = this.#headAvgMs();
    const depth = limit > 1 ? 2 * limit : avg !== undefined && avg < PREFETCH_BELOW_MS ? 2 : 1;
    const start = this.#warm === undefined ? 0 : Math.max(0, slots.indexOf(this.#warm));
    for (let k = 0; k < n && queue.length > 0; k++) {
      const slot = slots[(start + k) % n]!;
      if (!this.#canTake(slot)) continue;
      const room = Math.min(depth - slot.inflight.length, this.#maxTasksPerWorker - slot.assigned);
      if (room <= 0) continue;
      const share = Math.min(room, Math.ceil(queue.length / usable));
      this.#dispatch(slot, share);
    }
  }

  #canTake(s: Slot): boolean {
    return s.ready && !s.exited && !s.retiring && !s.exclusive;
  }

  /** The mean run time of the function of the task that waits first, if known. */
  #headAvgMs(): number | undefined {
    const head = this.#queue.peek();
    return head === undefined ? undefined : this.#avgTaskMs[head.fnId];
  }

  #batchLimit(): number {
    // By the cost of what waits first: a long function after a burst of tiny ones goes
    // a task at a time (so workers balance), not in the tiny ones' batches.
    const avg = this.#headAvgMs();
    if (avg === undefined) return 1;
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(TARGET_BATCH_MS / Math.max(avg, 0.0005))));
  }

  #spawnAsNeeded(): void {
    let idle = 0;
    let starting = 0;
    for (const s of this.#slots) {
      if (!s.ready) starting++;
      else if (s.inflight.length === 0 && !s.retiring) idle++;
    }
    let wanted = this.#queue.length - idle - starting;
    while (wanted > 0 && this.#slots.length < this.#maxWorkers) {
      this.#spawn();
      wanted--;
    }
  }

  #spawn(): void {
    const ctrl = new SharedArrayBuffer(CTRL_SLOTS * 4);
    const id = this.#nextWorkerId++;
    let slot: Slot;
    let markExited!: () => void;
    const exited$ = new Promise<void>((resolve) => (markExited = resolve));
    const handle = this.spawnWorker(
      { ...this.#init, ctrl },
      {
        message: (msg) => this.#onMessage(slot, msg),
        error: (err) => {
          slot.error ??= err;
        },
        exit: (code, signal) => this.#onExit(slot, code, signal),
      },
    );
    slot = {
      id,
      handle,
      ctrl: new Int32Array(ctrl),
      inflight: new Deque(),
      defined: new Set(),
      ready: false,
      exclusive: false,
      retiring: false,
      expectedExit: false,
      exited: false,
      referenced: true,
      unrefPending: false,
      assigned: 0,
      error: undefined,
      idleTimer: undefined,
      exited$,
      markExited,
    };
    this.#slots.push(slot);
    this.#alive.add(slot);
  }

  #dispatch(slot: Slot, count: number): void {
    const queue = this.#queue;
    const batch: Item[] = [];
    while (batch.length < count && queue.length > 0) {
      const item = queue.peek()!;
      const f = item;
      if (f.done()) {
        queue.shift();
        if (f.cancelled()) f.setRunningOrNotifyCancel();
        continue;
      }
      const exclusive = item.options.timeout !== undefined || item.options.signal !== undefined;
      if (exclusive && (batch.length > 0 || slot.inflight.length > 0)) break;
      queue.shift();
      if (!item.started) {
        item.started = true;
        f.setRunningOrNotifyCancel();
      }
      batch.push(item);
      if (exclusive) break;
    }
    if (batch.length > 0) this.#send(slot, batch);
  }

  /** Posts `batch` to `slot`; on a clone failure sends item by item, failing only those that cannot cross. */
  #send(slot: Slot, batch: Item[]): void {
    let defs: unknown[] | null = null;
    const msg: unknown[] = [TASKS, null];
    let transfer: TransferListItem[] | undefined;
    for (const item of batch) {
      if (!slot.defined.has(item.fnId)) {
        (defs ??= []).push(item.fnId, this.#specs[item.fnId]);
        slot.defined.add(item.fnId);
      }
      item.seq = this.#nextSeq = (this.#nextSeq + 1) | 0 || 1;
      msg.push(item.seq, item.fnId, item.flags, item.args);
      if (item.options.transfer !== undefined) (transfer ??= []).push(...item.options.transfer);
    }
    msg[1] = defs;
    try {
      slot.handle.post(msg, transfer);
      Atomics.add(slot.ctrl, CTRL_TASKS_POSTED, 1); // the worker's spin watches this, not its port
    } catch (err) {
      if (defs !== null) for (let i = 0; i < defs.length; i += 2) slot.defined.delete(defs[i] as number);
      if (batch.length > 1) {
        for (const item of batch) this.#send(slot, [item]);
      } else {
        this.#fail(batch[0]!, this.#cloneError(batch[0]!, err));
        this.#schedulePump(); // the worker may now have room for what waits behind it
      }
      return;
    }
    const now = performance.now();
    for (const item of batch) {
      item.slot = slot;
      item.dispatched = now;
      this.#waitTime.record((now - item.submitted) * 1000);
      slot.inflight.push(item);
      const timeout = item.options.timeout;
      if (timeout !== undefined) {
        item.timer = setTimeout(() => {
          const name = specName(this.#specs[item.fnId]!);
          this.#stop(item, new TimeoutError(`task ${name} timed out after ${timeout} ms; its ${this.workerKind} was stopped`), true);
        }, timeout);
      }
      if (item.options.signal !== undefined || timeout !== undefined) slot.exclusive = true;
    }
    slot.assigned += batch.length;
    if (slot.handle.poll !== undefined) this.#spinForResultsSoon();
    if (slot.idleTimer !== undefined) {
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
    }
    this.#reference(slot, true);
  }

  /**
   * Once the current turn is over, polls the workers for a result for a moment before
   * the event loop goes to sleep: waking a sleeping main thread costs more than a tiny
   * task (a round trip measured 5 us through the event loop, 2 us polled). It runs as
   * an immediate, so I/O already due is served first and the caller's own code is
   * never held up. It adapts as the worker's spin does: every miss costs score, every
   * hit earns it, and at zero it only probes now and then, so a pool of long tasks
   * costs the main thread nothing.
   */
  #spinForResultsSoon(): void {
    if (this.#resultSpinScheduled) return;
    if (this.#resultSpinScore <= 0 && (++this.#resultSpinProbe & 63) !== 0) return;
    this.#resultSpinScheduled = true;
    setImmediate(this.#spinForResults);
  }

  readonly #spinForResults = (): void => {
    this.#resultSpinScheduled = false;
    const slots = this.#slots;
    const until = performance.now() + RESULT_SPIN_MS;
    // As the worker does, watch each worker's counter and touch its port only when it moves.
    const seen = slots.map(() => -1);
    do {
      let waiting = false;
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i]!;
        if (slot.inflight.length === 0 || slot.handle.poll === undefined) continue;
        waiting = true;
        const posted = Atomics.load(slot.ctrl, CTRL_RESULTS_POSTED);
        if (posted === seen[i]) continue;
        seen[i] = posted;
        const msg = slot.handle.poll();
        if (msg !== undefined) {
          if (this.#resultSpinScore < 16) this.#resultSpinScore++;
          this.#onMessage(slot, msg);
          return;
        }
      }
      if (!waiting) return; // the results came through the event loop already
    } while (performance.now() < until);
    this.#resultSpinScore = Math.max(0, this.#resultSpinScore - 2);
  };

  #cloneError(item: Item, err: unknown): TypeError {
    const name = specName(this.#specs[item.fnId]!);
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const find = (args: unknown[], prefix: string): string | undefined => {
      for (let i = 0; i < args.length; i++) {
        try {
          structuredClone(args[i]);
        } catch {
          return `${prefix}argument ${i} (${describeArg(args[i])})`;
        }
      }
      return undefined;
    };
    let which: string | undefined;
    if (item.flags & FLAG_CHUNK) {
      const chunk = item.args as unknown[][];
      for (let j = 0; j < chunk.length && which === undefined; j++) which = find(chunk[j]!, `item ${j} of the chunk, `);
    } else if (item.flags & FLAG_ITEMS) {
      which = find(item.args, 'item ')?.replace(/^item argument/, 'item');
    } else {
      which = find(item.args, '');
    }
    const what = which ?? (item.options.transfer ? 'the arguments or transfer list' : 'the arguments');
    return new TypeError(`${what} of task ${name} cannot be sent to a worker ${this.workerKind}: ${why}`, { cause: err });
  }

  #onMessage(slot: Slot, msg: unknown[]): void {
    if (slot.exited || slot.expectedExit) return;
    switch (msg[0]) {
      case RESULTS:
        this.#onResults(slot, msg);
        break;
      case READY:
        slot.ready = true;
        this.#events.emit('workerReady', { workerId: slot.id });
        this.#pump();
        if (slot.inflight.length === 0) this.#becameIdle(slot);
        break;
      case RETIRE:
        slot.retiring = true; // replaced once the tasks it holds are done (#becameIdle)
        if (slot.inflight.length === 0) this.#kill(slot);
        break;
      case INIT_FAILED: {
        const cause = deserializeError(msg[1] as SerializedError);
        const message = cause instanceof Error ? cause.message : String(cause);
        this.#break(new BrokenExecutorError(`the pool's initializer failed in a worker ${this.workerKind}: ${message}`, { cause }));
        break;
      }
    }
  }

  #onResults(slot: Slot, msg: unknown[]): void {
    const count = (msg.length - 2) / RESULT_FIELDS;
    const perTask = (msg[1] as number) / count;
    const now = performance.now();
    for (let i = 2; i < msg.length; i += RESULT_FIELDS) {
      const item = slot.inflight.shift();
      if (item === undefined || item.seq !== msg[i]) {
        throw new Error(`internal: result for seq ${String(msg[i])} does not match the worker's oldest task`);
      }
      this.#runTime.record((now - item.dispatched) * 1000);
      const avg = this.#avgTaskMs[item.fnId];
      this.#avgTaskMs[item.fnId] = avg === undefined ? perTask : avg * 0.7 + perTask * 0.3;
      this.#release(item);
      const code = msg[i + 1];
      if (code === OK) {
        this.#completed++;
        if (item.onAbort !== undefined) this.#detachSignal(item);
        item.setResult(msg[i + 2]);
      } else {
        const error = deserializeError(msg[i + 2] as SerializedError);
        if (code === LOAD_FAILED) {
          this.#fail(item, error);
          const message = error instanceof Error ? error.message : String(error);
          this.#break(new BrokenExecutorError(`a task could not load, so the pool is broken: ${message}`, { cause: error }));
        } else if (item.retriesLeft > 0) {
          item.retriesLeft--;
          this.#queue.unshift(item);
        } else {
          this.#fail(item, error);
        }
      }
    }
    this.#warm = slot;
    if (slot.inflight.length === 0) this.#becameIdle(slot);
    this.#pump();
  }

  /** Clears what an item holds while it runs: its timer and its worker's exclusivity. */
  #release(item: Item): void {
    if (item.timer !== undefined) {
      clearTimeout(item.timer);
      item.timer = undefined;
    }
    if (item.slot !== undefined) {
      if (item.options.timeout !== undefined || item.options.signal !== undefined) item.slot.exclusive = false;
      item.slot = undefined;
    }
  }

  /** Stops listening to the task's signal once its Future is settled. */
  #detachSignal(item: Item): void {
    if (item.onAbort !== undefined) {
      item.options.signal!.removeEventListener('abort', item.onAbort);
      item.onAbort = undefined;
    }
  }

  #fail(item: Item, error: unknown): void {
    this.#release(item);
    this.#detachSignal(item);
    const f = item;
    if (f.done()) return;
    if (!item.started) {
      item.started = true;
      if (!f.setRunningOrNotifyCancel()) return;
    }
    this.#failed++;
    f.setException(error);
  }

  /** Ends a task early (timeout or abort): unqueued, or its worker stopped and replaced. */
  #stop(item: Item, error: unknown, retryable: boolean): void {
    if (item.done()) return;
    const slot = item.slot;
    if (slot === undefined) {
      this.#queue.removeFirst((x) => x === item);
    } else {
      slot.inflight.removeFirst((x) => x === item);
      this.#kill(slot);
    }
    this.#release(item);
    if (retryable && item.retriesLeft > 0) {
      item.retriesLeft--;
      this.#queue.unshift(item);
    } else {
      this.#fail(item, error);
    }
    this.#pump();
  }

  /** Stops a worker on purpose; what it still held goes back to the queue. */
  #kill(slot: Slot): void {
    slot.expectedExit = true;
    this.#requeue(slot);
    this.#remove(slot);
    slot.handle.terminate();
  }

  #requeue(slot: Slot): void {
    const held = slot.inflight.drain();
    for (let i = held.length - 1; i >= 0; i--) {
      const item = held[i]!;
      this.#release(item);
      this.#queue.unshift(item);
    }
  }

  #remove(slot: Slot): void {
    if (this.#warm === slot) this.#warm = undefined;
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
  }

  #onExit(slot: Slot, code: number | null, signal: string | null): void {
    if (slot.exited) return;
    slot.exited = true;
    this.#alive.delete(slot);
    slot.markExited();
    this.#remove(slot);
    this.#events.emit('workerExit', { workerId: slot.id, code, signal, expected: slot.expectedExit });
    if (!slot.expectedExit) {
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      const why = slot.error instanceof Error ? `: ${slot.error.message}` : '';
      if (!slot.ready && this.#broken === undefined) {
        this.#requeue(slot);
        this.#break(new BrokenExecutorError(`a worker ${this.workerKind} ${how} before it was ready${why}`, { cause: slot.error }));
      } else {
        let culprit = slot.ctrl[CTRL_RUNNING] === 1 ? Atomics.load(slot.ctrl, CTRL_SEQ) : undefined;
        // A process killed by a signal cannot say which task it was in: blame the oldest it held.
        if (culprit === SEQ_UNKNOWN) culprit = slot.inflight.peek()?.seq;
        const held = slot.inflight.drain();
        for (let i = held.length - 1; i >= 0; i--) {
          const item = held[i]!;
          this.#release(item);
          if (item.seq === culprit && item.retriesLeft === 0) {
            const name = specName(this.#specs[item.fnId]!);
            this.#fail(item, new WorkerCrashedError(`the worker ${this.workerKind} running task ${name} ${how}${why}`, code, signal, { cause: slot.error }));
          } else {
            if (item.seq === culprit) item.retriesLeft--;
            this.#queue.unshift(item);
          }
        }
      }
    }
    this.#pump();
    this.#checkIdle();
  }

  #becameIdle(slot: Slot): void {
    if (this.#broken !== undefined || slot.retiring || slot.assigned >= this.#maxTasksPerWorker) {
      this.#kill(slot);
      return;
    }
    if (this.#queue.length > 0) return;
    // Unref once the current turn is over, if the worker is still idle then: a caller
    // that submits again from the result's continuation keeps it referenced, and saves
    // two native calls each way per round trip.
    if (slot.referenced && !slot.unrefPending) {
      slot.unrefPending = true;
      setImmediate(() => {
        slot.unrefPending = false;
        if (slot.inflight.length === 0 && !slot.exited && !slot.expectedExit) this.#reference(slot, false);
      });
    }
    if (this.#idleTimeout !== undefined && slot.idleTimer === undefined) {
      slot.idleTimer = setTimeout(() => {
        slot.idleTimer = undefined;
        if (slot.inflight.length === 0) this.#kill(slot);
      }, this.#idleTimeout);
      slot.idleTimer.unref();
    }
    this.#checkIdle();
  }

  /** Idle workers do not keep the process alive, as a program that forgot shutdown should still exit. */
  #reference(slot: Slot, busy: boolean): void {
    if (slot.referenced === busy) return;
    slot.referenced = busy;
    if (busy) slot.handle.ref();
    else slot.handle.unref();
  }

  #break(error: BrokenExecutorError): void {
    if (this.#broken !== undefined) return;
    this.#broken = error;
    for (const item of this.#queue.drain()) this.#fail(item, error);
    for (const slot of [...this.#slots]) if (slot.inflight.length === 0) this.#kill(slot);
    this.#checkIdle();
  }

  /** Resolves the shutdown wait once nothing is queued or running. */
  #checkIdle(): void {
    if (this.#onIdle === undefined || this.#queue.length > 0) return;
    for (const s of this.#slots) if (s.inflight.length > 0) return;
    const done = this.#onIdle;
    this.#onIdle = undefined;
    done();
  }

  protected doShutdown(options: Required<ShutdownOptions>): Promise<void> {
    if (options.cancelFutures) {
      for (const item of this.#queue.drain()) {
        if (item.started || !item.cancel()) this.#queue.push(item);
        else this.#release(item);
      }
    }
    if (this.#closed === undefined) {
      this.#closed = new Promise<void>((resolve) => {
        this.#onIdle = resolve;
        this.#checkIdle();
      }).then(() => this.#terminateAll());
    }
    return this.#closed;
  }

  async #terminateAll(): Promise<void> {
    for (const slot of [...this.#slots]) this.#kill(slot);
    await Promise.all([...this.#alive].map((slot) => slot.exited$));
  }
}

function describeArg(value: unknown): string {
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (value !== null && typeof value === 'object') return Object.prototype.toString.call(value).slice(8, -1);
  return typeof value;
}
