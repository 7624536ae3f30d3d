/**
 * The pool's workers as a set: starting them, keeping each referenced only while it
 * holds tasks (an idle pool must not keep the program alive), stopping an idle one
 * after `idleTimeout`, stopping them on purpose, and waiting for them to exit. What
 * work goes where is the scheduler's business (scheduler.ts), not this file's.
 */
import { CTRL_SLOTS } from '../transport/protocol.js';
import { Deque } from '../util/deque.js';
import type { Item, Slot } from './item.js';
import { requeueAll } from './crashes.js';
import type { WorkerEvents, WorkerHandle } from './pool-types.js';
import { WARM_UP_CALLS, type WorkerInit } from './worker-runtime.js';
import { setLongTimeout } from '../util/timers.js';

/** What the worker set needs from its pool. */
export interface WorkersHost {
  /** Starts one worker (the pool subclass's spawnWorker). */
  spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle;
  /** A message from a worker. */
  onMessage(slot: Slot, msg: unknown[]): void;
  /** A worker has ended (after `exited` has done its bookkeeping). */
  onExit(slot: Slot, code: number | null, signal: string | null): void;
  /** Puts an item a stopped worker held back at the front of the queue. */
  requeue(item: Item): void;
}

/** Starts, tracks, references and stops a pool's workers. */
export class Workers {
  /** Workers that take or hold tasks, in start order. */
  readonly list: Slot[] = [];
  /** Every worker not yet exited, including those being stopped. */
  readonly #alive = new Set<Slot>();
  /** The worker that answered last: it is still polling for work. */
  warm: Slot | undefined;
  #nextId = 1;
  readonly #host: WorkersHost;
  readonly #init: Omit<WorkerInit, 'ctrl'>;
  readonly #idleTimeout: number | undefined;
  readonly #maxWorkers: number;
  readonly #mayWarmUp: boolean;

  constructor(
    host: WorkersHost,
    limits: { init: Omit<WorkerInit, 'ctrl'>; idleTimeout: number | undefined; maxWorkers: number; maxTasksPerWorker: number },
  ) {
    this.#host = host;
    this.#init = limits.init;
    this.#idleTimeout = limits.idleTimeout;
    this.#maxWorkers = limits.maxWorkers;
    // A worker replaced after fewer tasks than the warm-up's own calls would not gain from it.
    this.#mayWarmUp = limits.maxTasksPerWorker > WARM_UP_CALLS;
  }

  /** Starts workers, up to the limit, while more tasks wait than idle or starting workers will take. */
  startAsNeeded(waiting: number): void {
    let idle = 0;
    let starting = 0;
    for (const s of this.list) {
      if (!s.ready) starting++;
      else if (s.inflight.length === 0 && !s.retiring) idle++;
    }
    let wanted = waiting - idle - starting;
    // A process worker started into a queue (more tasks wait than the workers started
    // now take one each) warms its task loop before it says READY; one started for a
    // lone task goes straight to it (see WorkerRuntime.warmUp).
    const warmUp = this.#mayWarmUp && wanted > Math.min(wanted, this.#maxWorkers - this.list.length);
    while (wanted > 0 && this.list.length < this.#maxWorkers) {
      this.start(warmUp);
      wanted--;
    }
  }

  /** Starts one worker; it takes tasks once it has said READY. */
  start(warmUp = false): void {
    const ctrl = new SharedArrayBuffer(CTRL_SLOTS * 4);
    let markExited!: () => void;
    const exited$ = new Promise<void>((resolve) => (markExited = resolve));
    const host = this.#host;
    let slot: Slot; // the events below come later, from the event loop
    const handle = host.spawnWorker(
      { ...this.#init, ctrl, warmUp },
      {
        message: (msg) => host.onMessage(slot, msg),
        error: (err) => {
          slot.error ??= err;
        },
        exit: (code, signal) => {
          if (this.#exited(slot)) host.onExit(slot, code, signal);
        },
      },
    );
    slot = {
      id: this.#nextId++,
      handle,
      ctrl: new Int32Array(ctrl),
      inflight: new Deque(),
      defined: new Set(),
      ready: false,
      loadingFn: undefined,
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
    this.list.push(slot);
    this.#alive.add(slot);
  }

  /** Stops a worker on purpose and at once; what it still held goes back to the queue. */
  kill(slot: Slot): void {
    this.#letGo(slot);
    slot.handle.terminate();
  }

  /**
   * Ends an idle worker (retired, idle too long, the pool shut down) the way a program
   * ends: it exits once the non-daemon Processes its tasks started have. Until then it
   * keeps this program alive, as CPython's exit joins a worker that joins its children.
   */
  retire(slot: Slot): void {
    this.#letGo(slot);
    if (slot.handle.stop === undefined) {
      slot.handle.terminate();
      return;
    }
    this.#reference(slot, true);
    slot.handle.stop();
  }

  #letGo(slot: Slot): void {
    slot.expectedExit = true;
    requeueAll(this.#host, slot);
    this.#remove(slot);
  }

  /** Marks a worker ended; false if it already was. */
  #exited(slot: Slot): boolean {
    if (slot.exited) return false;
    slot.exited = true;
    this.#alive.delete(slot);
    slot.markExited();
    this.#remove(slot);
    return true;
  }

  #remove(slot: Slot): void {
    if (this.warm === slot) this.warm = undefined;
    const i = this.list.indexOf(slot);
    if (i >= 0) this.list.splice(i, 1);
    slot.idleTimer?.clear();
    slot.idleTimer = undefined;
  }

  /** A worker was just given tasks: it keeps the program alive, and its idle clock stops. */
  busy(slot: Slot): void {
    if (slot.idleTimer !== undefined) {
      slot.idleTimer.clear();
      slot.idleTimer = undefined;
    }
    this.#reference(slot, true);
  }

  /** A worker has nothing to do and nothing waits: unreference it, and start its idle clock. */
  idle(slot: Slot): void {
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
      slot.idleTimer = setLongTimeout(() => {
        slot.idleTimer = undefined;
        if (slot.inflight.length === 0) this.retire(slot);
      }, this.#idleTimeout);
      slot.idleTimer.unref();
    }
  }

  /** Idle workers do not keep the process alive, as a program that forgot shutdown should still exit. */
  #reference(slot: Slot, busy: boolean): void {
    if (slot.referenced === busy) return;
    slot.referenced = busy;
    if (busy) slot.handle.ref();
    else slot.handle.unref();
  }

  /** Ends every worker as `retire` does and resolves once all have exited. */
  async retireAll(): Promise<void> {
    for (const slot of [...this.list]) this.retire(slot);
    await Promise.all([...this.#alive].map((slot) => slot.exited$));
  }

  /** Stops at once every worker still ending, after `retire`, whatever its children do. */
  killRetiring(): void {
    for (const slot of this.#alive) if (slot.expectedExit && !slot.exited) slot.handle.terminate();
  }
}
