/**
 * The loop inside every pool worker, thread or process alike.
 *
 *   message event ──► queue ──► run one task at a time ──► outbox ──► one RESULTS message
 *                        ▲                                               │
 *                        └──── brief spin on poll() after the outbox ◄───┘
 *
 * Tasks arrive in batches and their results leave in batches, so a thousand tiny
 * tasks cost two messages. After it empties its queue the worker polls its port for
 * a few tens of microseconds before going back to the event loop: a pool that
 * submits one task at a time finds the worker still awake, which halves the round
 * trip. The spin is short and bounded, and a long batch yields to the event loop
 * every few milliseconds, so timers and promises a task started keep running
 * between tasks (unlike an Atomics.wait between tasks, which freezes them).
 */
import type { FunctionSpec } from '../tasks/describe.js';
import { loadFunction, TaskLoadError } from '../tasks/load.js';
import { serializeError } from '../transport/errors.js';
import {
  CTRL_RESULTS_POSTED,
  CTRL_RUNNING,
  CTRL_SEQ,
  CTRL_TASKS_POSTED,
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
  TASKS,
} from '../transport/protocol.js';
import { reviveArg } from '../transport/crossing.js';
import { settleQuietly, settleSync, usesProxies } from '../proxy/client.js';
import { packNumbers } from '../transport/numbers.js';
import { unwrapTransfer } from '../transport/transfer.js';
import { Deque } from '../util/deque.js';
import type { TransferListItem } from 'node:worker_threads';

/** What the pool gives a worker at start. */
export interface WorkerInit {
  /** Shared with the pool by a thread; a process keeps a local one and reports it when it exits. */
  ctrl: SharedArrayBuffer;
  initializer: FunctionSpec | undefined;
  initargs: unknown[];
  /** Ask to be replaced once the process's resident memory passes this many MiB. */
  maxRssMb?: number | undefined;
}

/** How the runtime talks to its pool. */
export interface RuntimeChannel {
  /** Sends one message, moving `transfer`; throws (DataCloneError) when it cannot be cloned. */
  send(message: unknown[], transfer?: TransferListItem[]): void;
  /** Returns the next waiting message without the event loop, or undefined; absent where the channel cannot (IPC). */
  poll?: () => unknown[] | undefined;
}

const SPIN_MS = 0.02; // how long an idle worker polls before it sleeps: a few main-thread turnarounds
const FLUSH_MS = 2; // longest a finished result waits in the outbox
const YIELD_MS = 5; // longest the worker holds its event loop inside a batch
const FLUSH_COUNT = 2048;
const QUEUED_FIELDS = 4; // seq, fnId, flags, args: a task in the worker's queue

/** What a ReferenceError in an inline task or target adds to its message. */
export const INLINE_HINT =
  ' (an inline task cannot use variables from around it: pass them as arguments, or define the task with defineTasks(import.meta.url, {...}))';

/** Runs tasks for a pool until the thread or process ends. Call `onMessage` for every message from the pool. */
export class WorkerRuntime {
  readonly #channel: RuntimeChannel;
  readonly #ctrl: Int32Array;
  readonly #queue = new Deque<unknown>();
  readonly #specs = new Map<number, FunctionSpec>();
  readonly #fns = new Map<number, Function>();
  #outbox: unknown[] = [RESULTS, 0];
  #outboxTransfer: TransferListItem[] | undefined = undefined;
  #running = false;
  #busyStart = 0;
  #spinScore = 4;
  #movedLast = false;
  #spinProbe = 0;

  #maxRssMb: number | undefined;
  #lastRssCheck = 0;
  #retiring = false;

  constructor(channel: RuntimeChannel, ctrl: Int32Array) {
    this.#channel = channel;
    this.#ctrl = ctrl;
  }

  /** Runs the initializer, then tells the pool it is ready. */
  async start(init: WorkerInit): Promise<void> {
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
    if (msg[0] !== TASKS) return;
    const defs = msg[1] as unknown[] | null;
    if (defs !== null) for (let i = 0; i < defs.length; i += 2) this.#specs.set(defs[i] as number, defs[i + 1] as FunctionSpec);
    // Each task queues as its seq, fnId, flags and argument array (see protocol.ts for the wire).
    const q = this.#queue;
    let seq = msg[2] as number;
    for (let i = 3; i < msg.length; seq = nextSeq(seq)) {
      const fnId = msg[i] as number;
      const head = msg[i + 1] as number;
      const flags = head % FLAG_SPAN;
      if (flags !== 0) {
        q.push(seq);
        q.push(fnId);
        q.push(flags);
        q.push(msg[i + 2]);
        i += 3;
      } else {
        const argc = (head - flags) / FLAG_SPAN;
        q.push(seq);
        q.push(fnId);
        q.push(0);
        q.push(msg.slice(i + 2, i + 2 + argc));
        i += 2 + argc;
      }
    }
    if (!this.#running) void this.#run();
  };

  async #run(): Promise<void> {
    this.#running = true;
    const q = this.#queue;
    const ctrl = this.#ctrl;
    let sliceStart = performance.now();
    let lastFlush = sliceStart;
    this.#busyStart = sliceStart;
    for (;;) {
      while (q.length >= QUEUED_FIELDS) {
        const seq = q.shift() as number;
        const fnId = q.shift() as number;
        const flags = q.shift() as number;
        const args = q.shift() as unknown[];
        let fn = this.#fns.get(fnId);
        if (fn === undefined) {
          try {
            fn = await this.#load(fnId);
          } catch (err) {
            this.#outbox.push(seq, err instanceof TaskLoadError ? LOAD_FAILED : FAILED, serializeError(err));
            continue;
          }
        }
        Atomics.store(ctrl, CTRL_SEQ, seq);
        ctrl[CTRL_RUNNING] = 1;
        try {
          // Inside the try: an argument that cannot be revived (a region its sender no
          // longer holds) fails this task. Thrown out of the loop, it killed the worker
          // before it said which task it was in, and the pool gave the task to the next.
          if (flags === 0) for (let i = 0; i < args.length; i++) args[i] = reviveArg(args[i]);
          let value: unknown = flags === 0 ? fn(...args) : this.#runChunk(fn, args, (flags & FLAG_ITEMS) !== 0);
          if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
            // Whatever finished before an async task should not wait for it.
            if (this.#outbox.length > 2) this.#flush();
            value = await value;
          }
          // What the task put into a queue of another process lands before it counts as done.
          if (usesProxies()) settleSync();
          const moved = unwrapTransfer(value);
          if (moved !== undefined) {
            value = moved.value;
            (this.#outboxTransfer ??= []).push(...moved.list);
          }
          this.#outbox.push(seq, OK, value);
        } catch (err) {
          // What a failed task wrote through a proxy lands before it counts as done too.
          if (usesProxies()) settleQuietly();
          this.#outbox.push(seq, FAILED, this.#serialize(err, fnId));
        }
        ctrl[CTRL_RUNNING] = 0;
        const now = performance.now();
        if (now - lastFlush >= FLUSH_MS || this.#outbox.length >= FLUSH_COUNT) {
          this.#flush();
          lastFlush = now;
        }
        if (now - sliceStart >= YIELD_MS) {
          this.#flush();
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = lastFlush = performance.now();
        }
      }
      this.#flush();
      if (!this.#spin()) break;
    }
    this.#running = false;
  }

  /**
   * Polls for more work for a moment; true if some arrived. Spinning pays only when
   * the pool answers within the window (one task at a time, tiny payloads); when it
   * does not, the spin just burns a core the main thread could use (on a 2-vCPU
   * machine often a hyperthread of the same core). So it adapts: every miss costs
   * score, every hit earns it, and at zero the worker only probes now and then.
   */
  #spin(): boolean {
    const poll = this.#channel.poll;
    if (poll === undefined) return false;
    if (this.#spinScore <= 0 && (++this.#spinProbe & 63) !== 0) return false;
    // Moving buffers is where a spinning neighbour slows the main thread most (measured).
    if (this.#movedLast) return false;
    const until = performance.now() + SPIN_MS;
    const ctrl = this.#ctrl;
    // Watch the pool's counter, and touch the port only when it moves: polling the port
    // itself takes its lock, which the posting thread needs too.
    let seen = -1;
    do {
      const posted = Atomics.load(ctrl, CTRL_TASKS_POSTED);
      if (posted === seen) continue;
      seen = posted;
      const msg = poll();
      if (msg !== undefined) {
        const before = this.#queue.length;
        this.onMessage(msg);
        if (this.#queue.length > before) {
          if (this.#spinScore < 16) this.#spinScore++;
          return true;
        }
      }
    } while (performance.now() < until);
    this.#spinScore = Math.max(0, this.#spinScore - 2);
    return false;
  }

  /** Runs `fn` over each argument array in order, as Python's _process_chunk; goes async only at the first promise. */
  #runChunk(fn: Function, chunk: ArrayLike<unknown>, items: boolean): unknown[] | Float64Array | Promise<unknown[] | Float64Array> {
    const out: unknown[] = new Array(chunk.length);
    for (let i = 0; i < chunk.length; i++) {
      const v = items ? fn(chunk[i]) : fn(...(chunk[i] as unknown[]));
      if (v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function') {
        return this.#finishChunk(fn, chunk, items, out, i, v as PromiseLike<unknown>);
      }
      out[i] = v;
    }
    return this.#packed(out);
  }

  /** Results that are all numbers go back as a Float64Array, moved rather than copied between threads. */
  #packed(out: unknown[]): unknown[] | Float64Array {
    const packed = packNumbers(out);
    if (packed instanceof Float64Array) (this.#outboxTransfer ??= []).push(packed.buffer as ArrayBuffer);
    return packed;
  }

  async #finishChunk(fn: Function, chunk: ArrayLike<unknown>, items: boolean, out: unknown[], from: number, pending: PromiseLike<unknown>): Promise<unknown[] | Float64Array> {
    out[from] = await pending;
    for (let i = from + 1; i < chunk.length; i++) out[i] = await (items ? fn(chunk[i]) : fn(...(chunk[i] as unknown[])));
    return this.#packed(out);
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
    this.#movedLast = transfer !== undefined;
    this.#outbox = [RESULTS, 0];
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
