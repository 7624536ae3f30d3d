/** The two records the scheduler keeps: a submitted task (Item) and a worker (Slot). */
import type { TaskOptions } from '../futures/executor.js';
import { Future } from '../futures/future.js';
import { specName, type FunctionSpec } from '../tasks/describe.js';
import { FLAG_CHUNK, FLAG_ITEMS } from '../transport/protocol.js';
import type { Deque } from '../util/deque.js';
import type { LongTimeout } from '../util/timers.js';
import type { WorkerHandle } from './pool-types.js';
import { offAbort } from '../util/abort.js';
import { cloneReason, findUncloneable } from '../transport/clone-error.js';
import { markUnsendable } from '../futures/map.js';

const EPOCH = performance.now();

/**
 * Whole microseconds since this module loaded: the times an Item keeps. A whole number
 * is stored in the Item itself, where a fraction (performance.now()) would cost a boxed
 * number apiece, twice per task (past 35 minutes they are boxed again, and still right).
 */
export function micros(): number {
  return Math.round((performance.now() - EPOCH) * 1000);
}

/**
 * Item flag, never sent: `args` is a call's sole argument itself, not an array. Most
 * calls have one argument, and a pool of tiny tasks holds thousands of them pending at
 * once: no array apiece is less for the young generation to copy while they wait.
 */
export const ONE_ARG = 8;

/** A shared argument list for calls without arguments. */
export const NO_ARGS: unknown[] = Object.freeze([]) as unknown as unknown[];

/** A submitted task: its Future and what the scheduler keeps about it, in one object. */
export class Item extends Future<unknown> {
  seq = 0;
  /** When it was sent to a worker (micros()). */
  dispatched = 0;
  slot: Slot | undefined = undefined;
  /** Its timeout's timer, signal listener and retries: only a task with one of those options has them, so one field for all. */
  extras: ItemExtras | undefined = undefined;
  /** Whom the Pool face tells when this settles (its AsyncResult), read by the face's one done callback: no closure per task. */
  sink: unknown = undefined;
  constructor(
    readonly fnId: number,
    /** The call's arguments, a chunk, or with ONE_ARG the sole argument itself. */
    readonly args: unknown,
    /** FLAG_CHUNK, FLAG_ITEMS (see protocol.ts), ONE_ARG, or 0: a call with an array of arguments. */
    readonly flags: number,
    readonly options: TaskOptions,
    /** When it was submitted (micros()). */
    readonly submitted: number,
  ) {
    super();
    const retries = options.retries;
    if (retries !== undefined && retries > 0) this.extras = { timer: undefined, onAbort: undefined, retriesLeft: retries };
  }

  /**
   * Cancelled, a task stops listening to its signal now: it stays queued until the pump
   * reaches it, and a long queue under one long-lived signal would hold it meanwhile.
   */
  override cancel(): boolean {
    if (!super.cancel()) return false;
    detachSignal(this);
    return true;
  }

  /** How many more times it may be retried after a failure (options.retries, counted down). */
  get retriesLeft(): number {
    return this.extras === undefined ? 0 : this.extras.retriesLeft;
  }

  set retriesLeft(n: number) {
    this.extras!.retriesLeft = n; // only counted down from above 0, so the extras exist
  }
}

/** What an Item with a timeout, a signal or retries holds while it waits or runs. */
export interface ItemExtras {
  timer: LongTimeout | undefined;
  onAbort: (() => void) | undefined;
  retriesLeft: number;
}

/**
 * Whether the scheduler has taken the item out of PENDING (sent it, or settled it
 * itself): a Future the scheduler still holds is RUNNING exactly then, since one that
 * is done is dropped or skipped first (no field of its own: a pool holds thousands).
 */
export function started(item: Item): boolean {
  return item.running();
}

/** The pool's record of one worker. */
export interface Slot {
  readonly id: number;
  readonly handle: WorkerHandle;
  readonly ctrl: Int32Array;
  /** Tasks sent and not yet answered, in the order the worker runs them. */
  readonly inflight: Deque<Item>;
  /** Function ids whose spec this worker has been sent. */
  readonly defined: Set<number>;
  ready: boolean;
  /** The function whose module the worker is importing (between LOADING and LOADED), if any. */
  loadingFn: number | undefined;
  exclusive: boolean;
  retiring: boolean;
  expectedExit: boolean;
  exited: boolean;
  referenced: boolean;
  unrefPending: boolean;
  assigned: number;
  error: unknown;
  idleTimer: LongTimeout | undefined;
  /** Resolves when the worker has exited. */
  readonly exited$: Promise<void>;
  markExited: () => void;
}

/** Whether a worker takes tasks now: started, not stopping, and not running a task that must run alone. */
export function canTake(s: Slot): boolean {
  return s.ready && !s.exited && !s.retiring && !s.exclusive;
}

/** The task functions a pool has seen, numbered: a worker is sent each spec once, then only its number. */
export class FunctionTable {
  readonly #ids = new Map<FunctionSpec, number>();
  readonly #specs: FunctionSpec[] = [];

  /** The number of `spec`, given at first sight. */
  idOf(spec: FunctionSpec): number {
    let id = this.#ids.get(spec);
    if (id === undefined) {
      id = this.#specs.length;
      this.#specs.push(spec);
      this.#ids.set(spec, id);
    }
    return id;
  }

  /** The spec numbered `id`. */
  spec(id: number): FunctionSpec {
    return this.#specs[id]!;
  }

  /** The module function `id` is imported from; for an inline function, its printable name. */
  moduleOf(id: number): string {
    const spec = this.#specs[id]!;
    return spec.kind === 'module' ? spec.module : specName(spec);
  }

  /** A printable name of an item's task function, for messages. */
  nameOf(item: Item): string {
    return specName(this.#specs[item.fnId]!);
  }
}

/** A Future that failed before it could be queued. */
export function failedFuture(error: unknown): Future<unknown> {
  const f = new Future<unknown>();
  f.setException(error);
  return f;
}

/** Whether a task must run alone on an idle worker, so its clock starts when it starts. */
export function isExclusive(item: Item): boolean {
  return item.options.timeout !== undefined || item.options.signal !== undefined;
}

/** Clears what an item holds while it runs: its timer and its worker's exclusivity. */
export function release(item: Item): void {
  const extras = item.extras;
  if (extras !== undefined && extras.timer !== undefined) {
    extras.timer.clear();
    extras.timer = undefined;
  }
  if (item.slot !== undefined) {
    if (isExclusive(item)) item.slot.exclusive = false;
    item.slot = undefined;
  }
}

/** Stops listening to the task's signal once its Future is settled. */
export function detachSignal(item: Item): void {
  const extras = item.extras;
  if (extras !== undefined && extras.onAbort !== undefined) {
    offAbort(item.options.signal!, extras.onAbort);
    extras.onAbort = undefined;
  }
}

/**
 * The error of a task whose arguments could not be cloned: it names the argument that
 * could not, and tells a map (markUnsendable) where it sat, so that the map can name the
 * input instead.
 */
export function cloneError(item: Item, spec: FunctionSpec, workerKind: string, err: unknown): TypeError {
  let at = 0;
  let found: { index: number; what: string } | undefined;
  let which: string | undefined;
  if (item.flags & FLAG_CHUNK) {
    const chunk = item.args as unknown[][];
    for (; at < chunk.length && found === undefined; at++) found = findUncloneable(chunk[at]!);
    at--;
    if (found) which = `item ${at} of the chunk, argument ${found.index} (${found.what})`;
  } else if (item.flags & FLAG_ITEMS) {
    // Each item is its call's one argument: the item's place is what names it.
    const hit = findUncloneable(item.args as unknown[]);
    if (hit) {
      at = hit.index;
      found = { index: 0, what: hit.what };
      which = `item ${at} (${found.what})`;
    }
  } else {
    found = findUncloneable(item.flags === ONE_ARG ? [item.args] : (item.args as unknown[]));
    if (found) which = `argument ${found.index} (${found.what})`;
  }
  const what = which ?? (item.options.transfer ? 'the arguments or transfer list' : 'the arguments');
  const sending = `cannot be sent to a worker ${workerKind}`;
  const error = new TypeError(`${what} of task ${specName(spec)} ${sending}: ${cloneReason(err)}`, { cause: err });
  if (found) markUnsendable(error, { at, argument: found.index, what: found.what, rest: `${sending} for task ${specName(spec)}: ${cloneReason(err)}` });
  return error;
}
