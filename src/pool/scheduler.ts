/**
 * The scheduler every worker pool shares (the pool class, pool-executor.ts, only
 * checks what is submitted and says how to start a worker).
 *
 *   submit ─► Item ─► queue ─► #pump ─► batch ─► worker ─► RESULTS ─► #onResults ─► Future
 *                        ▲        │                 │
 *                        │        └ spawns workers while items wait and no idle worker will take them
 *                        └─────── requeue: items a crashed or killed worker had not run
 *
 * queue     Items not yet sent, in submission order. Their Futures are PENDING, so
 *           they can still be cancelled, and `maxQueue` bounds them.
 * #pump     Sends each ready worker a batch. How many tasks a worker holds is the
 *           batching policy's (batching.ts): about a millisecond of work, measured
 *           from the workers' own busy time; tiny tasks travel a thousand to a
 *           message, long ones one by one. A task with a timeout or a signal is sent
 *           only to an idle worker and alone, so its clock starts when it starts.
 * worker    Runs its tasks in order (see worker-runtime.ts) and writes the seq of the
 *           task it is in to a shared Int32Array. Its results come back as messages,
 *           or are polled for a moment before the event loop sleeps (result-spin.ts).
 *           Workers are started, referenced and stopped by workers.ts.
 * crash     When a worker dies, the pool knows which task killed it: that task fails
 *           with WorkerCrashedError; the others it held go back to the front of the
 *           queue, and a replacement starts. One that dies while importing a task
 *           module ran nothing: all it held goes back (crashes.ts).
 * broken    A worker that dies before it is ready, a failing initializer, a task
 *           module that cannot load or workers dying three times in a row while
 *           loading one break the pool: queued and later Futures fail with
 *           BrokenExecutorError, and no worker is started again.
 */
import { setLongTimeout } from '../util/timers.js';
import type { EventEmitter } from 'node:events';
import type { TransferListItem } from 'node:worker_threads';
import { BrokenExecutorError, TimeoutError } from '../futures/errors.js';
import type { TaskOptions } from '../futures/executor.js';
import type { FunctionSpec } from '../tasks/describe.js';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import { CTRL_TASKS_POSTED, FLAG_SPAN, INIT_FAILED, LOAD_FAILED, LOADED, LOADING, nextSeq, OK, READY, RESULT_FIELDS, RESULTS, RETIRE, TASKS } from '../transport/protocol.js';
import { Deque } from '../util/deque.js';
import { BatchPolicy } from './batching.js';
import { LoadDeaths, settleCrash, type CrashHost } from './crashes.js';
import { canTake, cloneError, detachSignal, FunctionTable, isExclusive, Item, micros, ONE_ARG, release, started, type Slot } from './item.js';
import type { PoolStats, WorkerEvents, WorkerHandle } from './pool-types.js';
import { PoolMeter } from './stats.js';
import { ResultSpin } from './result-spin.js';
import { Workers } from './workers.js';
import type { WorkerInit } from './worker-runtime.js';
import { onAbort } from '../util/abort.js';

/** What the scheduler needs from its pool. */
export interface SchedulerHost {
  /** What a worker is called in messages: 'thread' or 'process'. */
  readonly workerKind: string;
  /** Starts one worker running worker-runtime with `init`. */
  spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle;
  /** Where 'workerReady' and 'workerExit' are emitted. */
  readonly events: EventEmitter;
}

/** The pool's limits, as the scheduler applies them. */
export interface SchedulerLimits {
  maxWorkers: number;
  maxTasksPerWorker: number;
  idleTimeout: number | undefined;
  init: Omit<WorkerInit, 'ctrl'>;
}

/** Queues tasks, sends them to workers in batches, and settles their Futures. */
export class Scheduler {
  readonly #host: SchedulerHost;
  readonly #limits: SchedulerLimits;
  readonly #queue = new Deque<Item>();
  readonly #workers: Workers;
  readonly #functions = new FunctionTable();
  readonly #batching = new BatchPolicy();
  readonly #resultSpin: ResultSpin;
  #nextSeq = 1;
  #pumpScheduled = false;
  #broken: BrokenExecutorError | undefined;
  #closed: Promise<void> | undefined;
  #onIdle: (() => void) | undefined;
  readonly #meter = new PoolMeter();
  /** What crash handling (crashes.ts) may do here. */
  readonly #crashHost: CrashHost;

  constructor(host: SchedulerHost, limits: SchedulerLimits) {
    this.#host = host;
    this.#limits = limits;
    const requeue = (item: Item): void => this.#queue.unshift(item);
    this.#workers = new Workers(
      {
        spawnWorker: (init, events) => host.spawnWorker(init, events),
        onMessage: (slot, msg) => this.#onMessage(slot, msg),
        onExit: (slot, code, signal) => this.#onExit(slot, code, signal),
        requeue,
      },
      limits,
    );
    this.#resultSpin = new ResultSpin(this.#workers.list, (slot, msg) => this.#onMessage(slot, msg));
    this.#crashHost = {
      workerKind: () => host.workerKind,
      isBroken: () => this.#broken !== undefined,
      taskName: (item) => this.#functions.nameOf(item),
      moduleOf: (fnId) => this.#functions.moduleOf(fnId),
      loadDeaths: new LoadDeaths(),
      requeue,
      fail: (item, error) => this.#fail(item, error),
      break: (error) => this.#break(error),
    };
  }

  /** The error the pool broke with, if it did. */
  get broken(): BrokenExecutorError | undefined {
    return this.#broken;
  }

  /** How many workers are alive or starting. */
  get workers(): number {
    return this.#workers.list.length;
  }

  /** How many tasks wait for a worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * How many tasks wait for a worker once the cancelled ones are taken out of the queue
   * (they wait nowhere, and must not fill `maxQueue`). O(n): for a queue at its bound.
   */
  queuedLive(): number {
    return this.#queue.retain(
      (item) => !item.done(),
      (item) => item.cancelled() && item.setRunningOrNotifyCancel(),
    );
  }

  /** The live counters and latency percentiles. */
  stats(): PoolStats {
    return this.#meter.snapshot(this.#workers.list, this.#queue.length);
  }

  /** Queues a task whose arguments are ready to cross (flags: see protocol.ts and ONE_ARG), and returns its Future. */
  enqueue(spec: FunctionSpec, args: unknown, flags: number, options: TaskOptions): Item {
    const item = new Item(this.#functions.idOf(spec), args, flags, options, micros());
    const signal = options.signal;
    if (signal !== undefined) {
      const abort = (): void => this.#stop(item, signal.reason, false);
      if (item.extras === undefined) item.extras = { timer: undefined, onAbort: abort, retriesLeft: 0 };
      else item.extras.onAbort = abort;
      onAbort(signal, abort);
    }
    this.#queue.push(item);
    // A lone task with the last worker idle and polling goes now: a microtask later is
    // a measurable part of a 5 us round trip. Several submits in a row still batch.
    this.#schedulePump();
    return item;
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
    this.#dropCancelledHead();
    if (queue.length === 0) {
      this.#checkIdle();
      return;
    }
    this.#workers.startAsNeeded(queue.length);
    const slots = this.#workers.list;
    const n = slots.length;
    let usable = 0;
    for (const s of slots) if (canTake(s)) usable++;
    if (usable === 0) return;
    // A task of a few milliseconds keeps one more at its worker (depth 2), so that the
    // worker need not wait for the next; but one that runs long after all (the same
    // function, other arguments) would hold it back while another worker goes idle. So
    // only while there are more tasks than the pool has workers: with fewer, every
    // task can have a worker of its own, now or as workers start or come free.
    let depth = this.#batching.depth(queue.peek()?.fnId);
    if (depth === 2 && queue.length <= this.#limits.maxWorkers) depth = 1;
    const warm = this.#workers.warm;
    const start = warm === undefined ? 0 : Math.max(0, slots.indexOf(warm));
    for (let k = 0; k < n && queue.length > 0; k++) {
      const slot = slots[(start + k) % n]!;
      if (!canTake(slot)) continue;
      const room = Math.min(depth - slot.inflight.length, this.#limits.maxTasksPerWorker - slot.assigned);
      if (room <= 0) continue;
      const share = Math.min(room, Math.ceil(queue.length / usable));
      this.#dispatch(slot, share);
    }
  }

  /**
   * Takes the cancelled tasks off the head of the queue. A cancelled Future stays queued
   * until something reaches it: a queue that holds only those holds no work, and must
   * not keep a worker from going idle or a shutdown from ending.
   */
  #dropCancelledHead(): void {
    const queue = this.#queue;
    for (let item = queue.peek(); item !== undefined && item.done(); item = queue.peek()) {
      queue.shift();
      if (item.cancelled()) item.setRunningOrNotifyCancel();
    }
  }

  #dispatch(slot: Slot, count: number): void {
    const queue = this.#queue;
    const batch: Item[] = [];
    while (batch.length < count && queue.length > 0) {
      const item = queue.peek()!;
      if (item.done()) {
        queue.shift();
        if (item.cancelled()) item.setRunningOrNotifyCancel();
        continue;
      }
      const exclusive = isExclusive(item);
      if (exclusive && (batch.length > 0 || slot.inflight.length > 0)) break;
      queue.shift();
      if (!started(item)) item.setRunningOrNotifyCancel();
      batch.push(item);
      if (exclusive) break;
    }
    if (batch.length > 0) this.#send(slot, batch);
  }

  /** Posts `batch` to `slot`; on a clone failure sends item by item, failing only those that cannot cross. */
  #send(slot: Slot, batch: Item[]): void {
    let defs: unknown[] | null = null;
    const msg: unknown[] = [TASKS, null, 0];
    let transfer: TransferListItem[] | undefined;
    let seq = this.#nextSeq;
    // Indexed loops: until V8 optimizes this code (most of a new pool's first thousands
    // of tasks), a for-of allocates an iterator result per task.
    for (let k = 0; k < batch.length; k++) {
      const item = batch[k]!;
      if (!slot.defined.has(item.fnId)) {
        (defs ??= []).push(item.fnId, this.#functions.spec(item.fnId));
        slot.defined.add(item.fnId);
      }
      item.seq = seq = nextSeq(seq);
      const flags = item.flags;
      if (flags === ONE_ARG) {
        msg.push(item.fnId, FLAG_SPAN, item.args);
      } else if (flags === 0) {
        // A call's arguments go inline: no array per task to clone and rebuild.
        const args = item.args as unknown[];
        msg.push(item.fnId, args.length * FLAG_SPAN);
        for (let i = 0; i < args.length; i++) msg.push(args[i]);
      } else {
        msg.push(item.fnId, flags, item.args);
      }
      if (item.options.transfer !== undefined) (transfer ??= []).push(...item.options.transfer);
    }
    this.#nextSeq = seq;
    msg[1] = defs;
    msg[2] = batch[0]!.seq;
    try {
      slot.handle.post(msg, transfer);
      Atomics.add(slot.ctrl, CTRL_TASKS_POSTED, 1); // the worker's spin watches this, not its port
    } catch (err) {
      if (defs !== null) for (let i = 0; i < defs.length; i += 2) slot.defined.delete(defs[i] as number);
      if (batch.length > 1) {
        for (const item of batch) this.#send(slot, [item]);
      } else {
        this.#fail(batch[0]!, cloneError(batch[0]!, this.#functions.spec(batch[0]!.fnId), this.#host.workerKind, err));
        this.#schedulePump(); // the worker may now have room for what waits behind it
      }
      return;
    }
    const now = micros();
    for (let k = 0; k < batch.length; k++) {
      const item = batch[k]!;
      item.slot = slot;
      item.dispatched = now;
      this.#meter.waitTime.record(now - item.submitted);
      slot.inflight.push(item);
      const timeout = item.options.timeout;
      if (timeout !== undefined) {
        const timer = setLongTimeout(() => {
          const why = `task ${this.#functions.nameOf(item)} timed out after ${timeout} ms; its ${this.#host.workerKind} was stopped`;
          this.#stop(item, new TimeoutError(why), true);
        }, timeout);
        if (item.extras === undefined) item.extras = { timer, onAbort: undefined, retriesLeft: 0 };
        else item.extras.timer = timer;
      }
      if (isExclusive(item)) slot.exclusive = true;
    }
    slot.assigned += batch.length;
    if (slot.handle.poll !== undefined) this.#resultSpin.soon();
    this.#workers.busy(slot);
  }

  #onMessage(slot: Slot, msg: unknown[]): void {
    if (slot.exited || slot.expectedExit) return;
    switch (msg[0]) {
      case RESULTS:
        this.#onResults(slot, msg);
        break;
      case READY:
        slot.ready = true;
        this.#host.events.emit('workerReady', { workerId: slot.id });
        this.#pump();
        if (slot.inflight.length === 0) this.#becameIdle(slot);
        break;
      case LOADING:
        slot.loadingFn = msg[1] as number;
        break;
      case LOADED:
        if (slot.loadingFn !== undefined) this.#crashHost.loadDeaths.loaded(this.#functions.moduleOf(slot.loadingFn));
        slot.loadingFn = undefined;
        break;
      case RETIRE:
        slot.retiring = true; // replaced once the tasks it holds are done (#becameIdle)
        if (slot.inflight.length === 0) this.#workers.retire(slot);
        break;
      case INIT_FAILED: {
        const cause = deserializeError(msg[1] as SerializedError);
        const message = cause instanceof Error ? cause.message : String(cause);
        this.#break(new BrokenExecutorError(`the pool's initializer failed in a worker ${this.#host.workerKind}: ${message}`, { cause }));
        break;
      }
    }
  }

  #onResults(slot: Slot, msg: unknown[]): void {
    const count = (msg.length - 2) / RESULT_FIELDS;
    const perTask = (msg[1] as number) / 1000 / count; // busy microseconds, as ms per task
    const now = micros();
    for (let i = 2; i < msg.length; i += RESULT_FIELDS) {
      const item = slot.inflight.shift();
      if (item === undefined || item.seq !== msg[i]) {
        throw new Error(`internal: result for seq ${String(msg[i])} does not match the worker's oldest task`);
      }
      this.#meter.runTime.record(now - item.dispatched);
      this.#batching.record(item.fnId, perTask);
      release(item);
      const code = msg[i + 1];
      if (code === OK) {
        this.#meter.completed++;
        if (item.extras !== undefined) detachSignal(item);
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
    this.#workers.warm = slot;
    if (slot.inflight.length === 0) this.#becameIdle(slot);
    this.#pump();
  }

  #fail(item: Item, error: unknown): void {
    release(item);
    detachSignal(item);
    if (item.done()) return;
    if (!started(item) && !item.setRunningOrNotifyCancel()) return;
    this.#meter.failed++;
    item.setException(error);
  }

  /** Ends a task early (timeout or abort): unqueued, or its worker stopped and replaced. */
  #stop(item: Item, error: unknown, retryable: boolean): void {
    if (item.done()) return;
    const slot = item.slot;
    if (slot === undefined) {
      this.#queue.removeFirst((x) => x === item);
    } else {
      slot.inflight.removeFirst((x) => x === item);
      this.#workers.kill(slot);
    }
    release(item);
    if (retryable && item.retriesLeft > 0) {
      item.retriesLeft--;
      this.#queue.unshift(item);
    } else {
      this.#fail(item, error);
    }
    this.#pump();
  }

  #onExit(slot: Slot, code: number | null, signal: string | null): void {
    this.#host.events.emit('workerExit', { workerId: slot.id, code, signal, expected: slot.expectedExit });
    if (!slot.expectedExit) settleCrash(this.#crashHost, slot, code, signal);
    this.#pump();
    this.#checkIdle();
  }

  #becameIdle(slot: Slot): void {
    if (this.#broken !== undefined || slot.retiring || slot.assigned >= this.#limits.maxTasksPerWorker) {
      this.#workers.retire(slot);
      return;
    }
    this.#dropCancelledHead();
    if (this.#queue.length > 0) return;
    this.#workers.idle(slot);
    this.#checkIdle();
  }

  #break(error: BrokenExecutorError): void {
    if (this.#broken !== undefined) return;
    this.#broken = error;
    for (const item of this.#queue.drain()) this.#fail(item, error);
    for (const slot of [...this.#workers.list]) if (slot.inflight.length === 0) this.#workers.retire(slot);
    this.#checkIdle();
  }

  /** Resolves the shutdown wait once nothing is queued or running. */
  #checkIdle(): void {
    if (this.#onIdle === undefined) return;
    this.#dropCancelledHead();
    if (this.#queue.length > 0) return;
    for (const s of this.#workers.list) if (s.inflight.length > 0) return;
    const done = this.#onIdle;
    this.#onIdle = undefined;
    done();
  }

  /**
   * Stops every worker now, as multiprocessing.Pool.terminate: tasks not started are
   * cancelled, running ones fail with `error`. Resolves once every worker has exited.
   */
  terminate(error: unknown): Promise<void> {
    for (const item of this.#queue.drain()) {
      if (started(item)) {
        this.#fail(item, error); // sent once, then put back by a crash: it did start
        continue;
      }
      release(item);
      detachSignal(item);
      if (item.cancel()) item.setRunningOrNotifyCancel();
    }
    for (const slot of [...this.#workers.list]) {
      for (const item of slot.inflight.drain()) this.#fail(item, error);
      this.#workers.kill(slot);
    }
    // Those already ending wait for children of their tasks, which may never end.
    this.#workers.killRetiring();
    const closed = this.shutdown(false);
    this.#checkIdle();
    return closed;
  }

  /** Resolves once every task is done and every worker has exited; `cancelFutures` cancels what has not started. */
  shutdown(cancelFutures: boolean): Promise<void> {
    if (cancelFutures) {
      for (const item of this.#queue.drain()) {
        if (started(item) || !item.cancel()) this.#queue.push(item);
        else release(item);
      }
    }
    if (this.#closed === undefined) {
      this.#closed = new Promise<void>((resolve) => {
        this.#onIdle = resolve;
        this.#checkIdle();
      }).then(() => this.#workers.retireAll());
    }
    return this.#closed;
  }
}
