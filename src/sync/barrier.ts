import { BrokenBarrierError } from '../futures/errors.js';
import { checkTimeout, describe } from '../futures/future.js';
import { deadlineOf, waitAsync, waitSync, wake } from './waiting.js';
import { lookupTask, taskRefOf, type TaskRef } from '../tasks/registry.js';
import { loadFunction } from '../tasks/load.js';
import { brandInstance, registerShared } from './shared.js';

const COUNT = 0; // threads waiting in the current generation
const GEN = 1; // bumped when a generation passes or is reset
const BROKEN = 2; // 1 while broken
const BROKEN_GEN = 3; // the generation a reset broke (its waiters raise), -1 if none

/** Options of a Barrier. */
export interface BarrierOptions {
  /**
   * Called by one of the threads when all have arrived, before any is released. When
   * threads share the barrier, make it a defineTasks task: the thread that arrives last
   * runs it, finding it by module and name.
   */
  action?: () => void;
  /** Default timeout of `wait` in ms. */
  timeout?: number;
}

/** A fixed number of threads wait until all have arrived: threading.Barrier. */
export class Barrier {
  /** @internal */
  readonly _state: Int32Array;
  /** How many threads must arrive. */
  readonly parties: number;
  /** @internal */
  readonly _timeout: number | undefined;
  /** @internal Not carried into other threads: a function cannot cross. */
  readonly _action: (() => void) | undefined;
  /** @internal How another thread finds the action: its defineTasks name. */
  readonly _actionRef: TaskRef | undefined;

  constructor(parties: number, options: BarrierOptions = {}) {
    if (!Number.isInteger(parties) || parties < 1) throw new RangeError(`parties must be an integer >= 1, got ${describe(parties)}`);
    checkTimeout(options.timeout);
    if (options.action !== undefined && typeof options.action !== 'function') throw new TypeError(`action must be a function, got ${describe(options.action)}`);
    brandInstance(this, new.target);
    this.parties = parties;
    this._timeout = options.timeout;
    Object.defineProperty(this, '_action', { value: options.action, enumerable: false });
    this._actionRef = options.action === undefined ? undefined : taskRefOf(options.action);
    this._state = new Int32Array(new SharedArrayBuffer(16));
    this._state[BROKEN_GEN] = -1;
  }

  /** Threads waiting now. */
  get nWaiting(): number {
    return this.broken ? 0 : Atomics.load(this._state, COUNT);
  }

  /** True once aborted, reset while threads waited, or a wait timed out. */
  get broken(): boolean {
    return Atomics.load(this._state, BROKEN) === 1;
  }

  /** Arrives and waits for the others; resolves to this thread's distinct index, 0..parties-1. */
  async wait(timeout?: number): Promise<number> {
    const { index, gen, deadline } = this._arrive(timeout);
    if (index === this.parties - 1) {
      // This thread may not have imported the action's module yet; waiting here is allowed.
      if (this._action === undefined && this._actionRef !== undefined) {
        await loadFunction({ kind: 'module', ...this._actionRef }).catch(() => undefined);
      }
      return this._pass(index);
    }
    const s = this._state;
    while (Atomics.load(s, GEN) === gen && !this.broken) {
      if (!(await waitAsync(s, GEN, gen, deadline)) && Atomics.load(s, GEN) === gen) {
        this.abort();
        throw new BrokenBarrierError('barrier wait timed out; the barrier is now broken');
      }
    }
    return this._leave(index, gen);
  }

  /** `wait`, blocking this thread. */
  waitSync(timeout?: number): number {
    const { index, gen, deadline } = this._arrive(timeout);
    if (index === this.parties - 1) return this._pass(index);
    const s = this._state;
    while (Atomics.load(s, GEN) === gen && !this.broken) {
      if (!waitSync(s, GEN, gen, deadline) && Atomics.load(s, GEN) === gen) {
        this.abort();
        throw new BrokenBarrierError('barrier wait timed out; the barrier is now broken');
      }
    }
    return this._leave(index, gen);
  }

  /** Breaks the barrier: current and future waiters get BrokenBarrierError until `reset()`. */
  abort(): void {
    Atomics.store(this._state, BROKEN, 1);
    wake(this._state, GEN);
  }

  /** Returns to the initial state; threads waiting now get BrokenBarrierError. */
  reset(): void {
    const s = this._state;
    if (Atomics.load(s, COUNT) > 0) Atomics.store(s, BROKEN_GEN, Atomics.load(s, GEN));
    Atomics.store(s, COUNT, 0);
    Atomics.store(s, BROKEN, 0);
    Atomics.add(s, GEN, 1);
    wake(s, GEN);
  }

  /** @internal */
  _arrive(timeout: number | undefined): { index: number; gen: number; deadline: number } {
    const deadline = deadlineOf(timeout ?? this._timeout);
    if (this.broken) throw new BrokenBarrierError('the barrier is broken');
    const gen = Atomics.load(this._state, GEN);
    const index = Atomics.add(this._state, COUNT, 1);
    return { index, gen, deadline };
  }

  /** @internal The last thread: run the action, start the next generation, release the rest. */
  _pass(index: number): number {
    const s = this._state;
    try {
      const ref = this._actionRef;
      const action = this._action ?? (ref === undefined ? undefined : lookupTask(ref.module, ref.name));
      if (action === undefined && (this._actionRef !== undefined)) {
        throw new Error('the Barrier action is not available in this thread: define it with defineTasks and import its module here');
      }
      (action as (() => void) | undefined)?.();
    } catch (err) {
      this.abort();
      throw err;
    }
    Atomics.store(s, COUNT, 0);
    Atomics.add(s, GEN, 1);
    wake(s, GEN);
    return index;
  }

  /** @internal */
  _leave(index: number, gen: number): number {
    if (this.broken || Atomics.load(this._state, BROKEN_GEN) === gen) throw new BrokenBarrierError('the barrier was broken while waiting');
    return index;
  }
}

registerShared('Barrier', Barrier);
