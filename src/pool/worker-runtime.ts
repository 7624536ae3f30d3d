/**
 * The loop inside every pool worker, thread or process alike.
 *
 *   message event ──► batches ──► run one task at a time ──► outbox ──► one RESULTS message
 *                        ▲                                                 │
 *                        └──── brief spin on poll() after the outbox ◄─────┘
 *
 * Tasks arrive in batches and their results leave in batches, so a thousand tiny
 * tasks cost two messages. A batch is kept as it came and its tasks read in place.
 * After it runs every task it holds the worker polls its port for a few tens of
 * microseconds before going back to the event loop (idle-spin.ts): a pool that
 * submits one task at a time finds the worker still awake, which halves the round
 * trip. The spin is short and bounded, and a long batch yields to the event loop
 * every few milliseconds, so timers and promises a task started keep running
 * between tasks (unlike an Atomics.wait between tasks, which freezes them).
 *
 * The loop that runs tasks is synchronous and small (#runSome); only a task that
 * returns a promise, or whose function must first load, goes through an await. A new
 * process worker has V8 compile that loop before its first batch (warmUp).
 */
import type { FunctionSpec } from '../tasks/describe.js';
import { loadFunction, TaskLoadError } from '../tasks/load.js';
import { serializeError } from '../transport/errors.js';
import {
  CTRL_RESULTS_POSTED,
  CTRL_RUNNING,
  CTRL_SEQ,
  FAILED,
  FLAG_ITEMS,
  FLAG_SPAN,
  INIT_FAILED,
  LOAD_FAILED,
  LOADED,
  LOADING,
  nextSeq,
  OK,
  READY,
  RESULTS,
  RETIRE,
  STOP,
  TASKS,
} from '../transport/protocol.js';
import { joinChildren, stopDaemons } from '../util/runnable.js';
import { settleQuietly, settleSync, usesProxies } from '../proxy/client.js';
import { unwrapTransfer } from '../transport/transfer.js';
import { Deque } from '../util/deque.js';
import { callInline, runChunk } from './task-calls.js';
import { IdleSpin } from './idle-spin.js';
import type { TransferListItem } from 'node:worker_threads';
import { deserialize, serialize } from 'node:v8';

/** What the pool gives a worker at start. */
export interface WorkerInit {
  /** Shared with the pool by a thread; a process keeps a local one and reports it when it exits. */
  ctrl: SharedArrayBuffer;
  initializer: FunctionSpec | undefined;
  initargs: unknown[];
  /** Ask to be replaced once the process's resident memory passes this many MiB. */
  maxRssMb?: number | undefined;
  /** Started into a queue of tasks: a process worker runs `WorkerRuntime.warmUp` before it says READY. */
  warmUp?: boolean | undefined;
}

/** How the runtime talks to its pool. */
export interface RuntimeChannel {
  /** Sends one message, moving `transfer`; throws (DataCloneError) when it cannot be cloned. */
  send(message: unknown[], transfer?: TransferListItem[]): void;
  /** Returns the next waiting message without the event loop, or undefined; absent where the channel cannot (IPC). */
  poll?: () => unknown[] | undefined;
  /** Ends the process, where it has more to do first. @default process.exit(0), which ends a thread or a process */
  exit?: () => void;
}

const FLUSH_MS = 2; // longest a finished result waits in the outbox
const YIELD_MS = 5; // longest the worker holds its event loop inside a batch
const FLUSH_COUNT = 2048;

/** What a ReferenceError in an inline task or target adds to its message. */
export const INLINE_HINT =
  ' (an inline task cannot use variables from around it: pass them as arguments, or define the task with defineTasks(import.meta.url, {...}))';

/** Why the synchronous part of the loop stopped (see #runSome). */
const DRAINED = 0; // no task left
const AWAITING = 1; // a task returned a promise: #pending holds it
const LOAD = 2; // the next task's function is not loaded yet
const YIELDING = 3; // the time slice is over

const NO_BATCH: unknown[] = [TASKS, null, 0];

// The warm-up's own task functions (negative ids: the pool numbers from 0).
const WARM_A = -1;
const WARM_B = -2;
const WARM_BATCH = 1000;
const WARM_ROUNDS = 3;
/** How many calls of its own `WorkerRuntime.warmUp` runs. */
export const WARM_UP_CALLS = WARM_BATCH * WARM_ROUNDS;
const warmA = (x: unknown): unknown => x;
const warmB = (x: unknown): unknown => (typeof x === 'number' ? x + 1 : x);

/** Runs tasks for a pool until the thread or process ends. Call `onMessage` for every message from the pool. */
export class WorkerRuntime {
  #channel: RuntimeChannel;
  readonly #ctrl: Int32Array;
  /**
   * TASKS messages not yet run, each kept whole and read in place: decoding every task
   * into a queue cost a loop per message that V8 had to compile again in each new
   * worker, during its first batch.
   */
  readonly #batches = new Deque<unknown[]>();
  /** The message being run, where its next task starts, and that task's seq. */
  #batch: unknown[] = NO_BATCH;
  #at = 3;
  #seq = 0;
  /** The task that returned a promise, while the loop awaits it. */
  #pending: PromiseLike<unknown> | undefined = undefined;
  #pendingSeq = 0;
  #pendingFn = 0;
  readonly #specs = new Map<number, FunctionSpec>();
  readonly #fns = new Map<number, Function>();
  #outbox: unknown[] = newOutbox();
  #outboxTransfer: TransferListItem[] | undefined = undefined;
  #running = false;
  // Times start as what they hold later, fractions: a field that went from a small
  // integer to a fraction changed the object's shape under code compiled by warmUp.
  #busyStart = performance.now();
  #sliceStart = performance.now();
  #lastFlush = performance.now();
  readonly #spin = new IdleSpin();

  #maxRssMb: number | undefined;
  #lastRssCheck = -Infinity;
  #retiring = false;
  /** Settles once `start` is done (the initializer ran, READY or INIT_FAILED sent): STOP waits for it. */
  readonly #started: Promise<void>;
  #markStarted!: () => void;

  constructor(channel: RuntimeChannel, ctrl: Int32Array) {
    this.#channel = channel;
    this.#ctrl = ctrl;
    this.#started = new Promise<void>((resolve) => (this.#markStarted = resolve));
  }

  /**
   * Runs the task loop over calls of its own, in a new worker before it says it is
   * ready (a process does it while its watchdog thread boots, see child-entry.ts), so
   * that V8 has compiled the loop before the first real batch rather than during it.
   * The calls go to two functions, with a number and an object, in a message that came
   * through the serializer as the pool's do: the compiled loop then expects any task
   * function and any value, and nothing of it is undone at the first real task.
   */
  warmUp(): void {
    const fns = this.#fns;
    fns.set(WARM_A, warmA);
    fns.set(WARM_B, warmB);
    const batch: unknown[] = [TASKS, null, 1];
    for (let i = 0; i < WARM_BATCH; i++) batch.push(i & 1 ? WARM_A : WARM_B, FLAG_SPAN, i & 2 ? i : { i });
    const msg = deserialize(serialize(batch)) as unknown[];
    // Results flushed as the real ones are, but into a channel that drops them: the pool
    // hears nothing. Never yielded.
    const channel = this.#channel;
    const posted = this.#ctrl[CTRL_RESULTS_POSTED]!;
    this.#channel = { send: () => undefined, exit: channel.exit };
    this.#sliceStart = Infinity;
    for (let r = 0; r < WARM_ROUNDS; r++) {
      this.#batches.push(msg);
      this.#runSome();
      this.#flush();
    }
    this.#channel = channel;
    this.#ctrl[CTRL_RESULTS_POSTED] = posted;
    fns.delete(WARM_A);
    fns.delete(WARM_B);
    this.#ctrl[CTRL_SEQ] = 0;
  }

  /** Runs the initializer, then tells the pool it is ready. */
  async start(init: WorkerInit): Promise<void> {
    try {
      await this.#init(init);
    } finally {
      this.#markStarted();
    }
  }

  async #init(init: WorkerInit): Promise<void> {
    this.#maxRssMb = init.maxRssMb;
    if (init.initializer !== undefined) {
      try {
        const fn = await loadFunction(init.initializer);
        await fn(...init.initargs);
      } catch (err) {
        this.#channel.send([INIT_FAILED, serializeError(err)]);
        return;
      }
    }
    this.#channel.send([READY]);
  }

  /** Accepts one message from the pool. */
  onMessage = (msg: unknown[]): void => {
    if (msg[0] !== TASKS) {
      if (msg[0] === STOP) void this.#end();
      return;
    }
    const defs = msg[1] as unknown[] | null;
    if (defs !== null) for (let i = 0; i < defs.length; i += 2) this.#specs.set(defs[i] as number, defs[i + 1] as FunctionSpec);
    this.#batches.push(msg);
    if (!this.#running) void this.#run();
  };

  /**
   * The pool lets this idle worker go: it ends as a program whose main code is done, as
   * CPython's exit joins the non-daemonic children of a worker. What a task left running
   * (a Process it did not join) finishes first and its writes land; daemons are stopped.
   */
  async #end(): Promise<void> {
    // A worker stopped while it starts (the pool shut down first) runs its initializer to
    // its end, as a program's main code runs before its exit joins what that code started.
    await this.#started;
    await joinChildren();
    await stopDaemons();
    if (this.#channel.exit !== undefined) this.#channel.exit();
    else process.exit(0);
  }

  async #run(): Promise<void> {
    this.#running = true;
    this.#sliceStart = this.#lastFlush = this.#busyStart = performance.now();
    for (;;) {
      const why = this.#runSome();
      if (why === AWAITING) await this.#settlePending();
      else if (why === LOAD) await this.#loadNext();
      else if (why === YIELDING) {
        this.#flush();
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.#sliceStart = this.#lastFlush = performance.now();
      } else {
        this.#flush();
        if (!this.#spin.awaitWork(this.#channel.poll, this.#ctrl, this.onMessage, this.#hasWork)) break;
      }
    }
    this.#running = false;
  }

  /** A buffer a result moves back to the pool rather than copies. */
  readonly #moveBack = (buffer: ArrayBuffer): void => {
    (this.#outboxTransfer ??= []).push(buffer);
  };

  /** Whether a message with tasks has come (read by the spin, once the loop has run every task). */
  readonly #hasWork = (): boolean => this.#batches.length > 0;

  /** Whether a task waits; moves on to the next message when this one is done. */
  #hasTask(): boolean {
    if (this.#at < this.#batch.length) return true;
    const next = this.#batches.shift();
    if (next === undefined) {
      this.#batch = NO_BATCH; // its arguments and results can go
      return false;
    }
    this.#batch = next;
    this.#at = 3;
    this.#seq = next[2] as number;
    return true;
  }

  /**
   * Runs tasks in order, without awaiting, until none is left, one returns a promise,
   * one's function must be loaded first, or the time slice is over. Synchronous and
   * small, so a new worker's first tasks run it in V8's interpreter cheaply and its
   * compiler has little to compile.
   */
  #runSome(): number {
    const ctrl = this.#ctrl;
    while (this.#hasTask()) {
      const msg = this.#batch;
      const at = this.#at;
      const fnId = msg[at] as number;
      const fn = this.#fns.get(fnId);
      if (fn === undefined) return LOAD;
      // A task is fnId, head (flags + argument count * FLAG_SPAN), then its arguments
      // inline, or with flags one value (see protocol.ts).
      const head = msg[at + 1] as number;
      const flags = head % FLAG_SPAN;
      const argc = flags === 0 ? head / FLAG_SPAN : 1;
      const seq = this.#seq;
      this.#at = at + 2 + argc;
      this.#seq = nextSeq(seq);
      Atomics.store(ctrl, CTRL_SEQ, seq);
      ctrl[CTRL_RUNNING] = 1;
      try {
        // Inside the try: an argument that cannot be revived (a region its sender no
        // longer holds) fails this task. Thrown out of the loop, it killed the worker
        // before it said which task it was in, and the pool gave the task to the next.
        const value = flags === 0 ? callInline(fn, msg, at + 2, argc) : runChunk(fn, msg[at + 2] as ArrayLike<unknown>, (flags & FLAG_ITEMS) !== 0, this.#moveBack);
        if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
          this.#pending = value as PromiseLike<unknown>;
          this.#pendingSeq = seq;
          this.#pendingFn = fnId;
          return AWAITING;
        }
        this.#succeeded(seq, value);
      } catch (err) {
        this.#failed(seq, fnId, err);
      }
      ctrl[CTRL_RUNNING] = 0;
      if (this.#afterTask()) return YIELDING;
    }
    return DRAINED;
  }

  /** Awaits the task #runSome left pending, and records its outcome. */
  async #settlePending(): Promise<void> {
    const pending = this.#pending!;
    this.#pending = undefined;
    const seq = this.#pendingSeq;
    const fnId = this.#pendingFn;
    // Whatever finished before an async task should not wait for it.
    if (this.#outbox.length > 2) this.#flush();
    try {
      this.#succeeded(seq, await pending);
    } catch (err) {
      this.#failed(seq, fnId, err);
    }
    this.#ctrl[CTRL_RUNNING] = 0;
    if (this.#afterTask()) {
      this.#flush();
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.#sliceStart = this.#lastFlush = performance.now();
    }
  }

  /** Loads the function of the next task; if it cannot load, that task fails and is passed over. */
  async #loadNext(): Promise<void> {
    const fnId = this.#batch[this.#at] as number;
    try {
      await this.#load(fnId);
    } catch (err) {
      const head = this.#batch[this.#at + 1] as number;
      const flags = head % FLAG_SPAN;
      this.#at += 2 + (flags === 0 ? head / FLAG_SPAN : 1);
      const seq = this.#seq;
      this.#seq = nextSeq(seq);
      this.#outbox.push(seq, err instanceof TaskLoadError ? LOAD_FAILED : FAILED, serializeError(err));
    }
  }

  /** Records a task's result. Throws (and the task fails) if what it wrote through a proxy could not land. */
  #succeeded(seq: number, value: unknown): void {
    // What the task put into a queue of another process lands before it counts as done.
    if (usesProxies()) settleSync();
    const moved = unwrapTransfer(value);
    if (moved !== undefined) {
      value = moved.value;
      (this.#outboxTransfer ??= []).push(...moved.list);
    }
    this.#outbox.push(seq, OK, value);
  }

  #failed(seq: number, fnId: number, err: unknown): void {
    // What a failed task wrote through a proxy lands before it counts as done too.
    if (usesProxies()) settleQuietly();
    this.#outbox.push(seq, FAILED, this.#serialize(err, fnId));
  }

  /** Sends the results when they have waited long enough; true once the time slice is over. */
  #afterTask(): boolean {
    const now = performance.now();
    if (now - this.#lastFlush >= FLUSH_MS || this.#outbox.length >= FLUSH_COUNT) {
      this.#flush();
      this.#lastFlush = now;
    }
    return now - this.#sliceStart >= YIELD_MS;
  }

  async #load(fnId: number): Promise<Function> {
    const spec = this.#specs.get(fnId);
    if (spec === undefined) throw new Error(`internal: worker has no function ${fnId}`);
    // Importing a module runs its top-level code, which may end this worker: the pool
    // must know that a death now is a load death (it breaks after a few in a row rather
    // than respawn forever). The results before it go first, so they are not run again.
    // Compiling inline source runs nothing of the user's.
    const announce = spec.kind === 'module';
    if (announce) {
      this.#flush();
      this.#channel.send([LOADING, fnId]);
    }
    try {
      const fn = await loadFunction(spec);
      this.#fns.set(fnId, fn);
      return fn;
    } finally {
      if (announce) this.#channel.send([LOADED]);
    }
  }

  #serialize(err: unknown, fnId: number): unknown {
    const data = serializeError(err);
    if ('$error' in data && data.name === 'ReferenceError' && this.#specs.get(fnId)?.kind === 'inline') {
      return { ...data, message: data.message + INLINE_HINT };
    }
    return data;
  }

  #flush(): void {
    const out = this.#outbox;
    if (out.length <= 2) return;
    const now = performance.now();
    out[1] = Math.round((now - this.#busyStart) * 1000); // whole microseconds keep the array one of small integers
    this.#busyStart = now;
    const transfer = this.#outboxTransfer;
    this.#spin.movedLast = transfer !== undefined;
    this.#outbox = newOutbox();
    this.#outboxTransfer = undefined;
    // Ask to retire before the results go, so the pool never sees this worker idle and keepable.
    if (this.#maxRssMb !== undefined && !this.#retiring && now - this.#lastRssCheck > 50) {
      this.#lastRssCheck = now;
      if (process.memoryUsage.rss() > this.#maxRssMb * 1024 * 1024) {
        this.#retiring = true;
        this.#channel.send([RETIRE]);
      }
    }
    try {
      this.#channel.send(out, transfer);
    } catch (err) {
      this.#sendEachResult(out, err);
    }
    Atomics.add(this.#ctrl, CTRL_RESULTS_POSTED, 1);
  }

  /** A batch failed to clone: send result by result, replacing the ones that cannot cross. */
  #sendEachResult(out: unknown[], batchError: unknown): void {
    for (let i = 2; i < out.length; i += 3) {
      const one = [RESULTS, 0, out[i], out[i + 1], out[i + 2]];
      try {
        this.#channel.send(one);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(batchError);
        const error = new TypeError(`the task's result cannot be sent back from the worker: ${why}`);
        this.#channel.send([RESULTS, 0, out[i], FAILED, serializeError(error)]);
      }
    }
  }
}

/** A RESULTS message to fill: made in one place, so V8 learns once that it holds any value. */
function newOutbox(): unknown[] {
  return [RESULTS, 0];
}
