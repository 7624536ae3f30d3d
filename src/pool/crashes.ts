/**
 * Crash handling: what happens to the tasks a worker held when it dies unexpectedly.
 *
 * A worker writes the seq of the task it is in to its ctrl array (a process reports it
 * as it exits), so the pool knows which task killed it: that task fails with
 * WorkerCrashedError (or is run again if it has retries left), and the others it held
 * go back to the front of the queue, in order, for a replacement to run. A worker that
 * dies before it is ready breaks the pool instead: it would die again.
 *
 * A worker that dies while importing a task module (it says LOADING before, LOADED
 * after) ran nothing: what it held goes back to the queue. One such death may come from
 * outside (a SIGKILL); but when workers die loading the same module three times in a
 * row, its top-level code is what kills them (an exit not guarded by isMain(), say),
 * and the pool breaks rather than respawn forever.
 */
import { BrokenExecutorError, WorkerCrashedError } from '../futures/errors.js';
import { CTRL_RUNNING, CTRL_SEQ, SEQ_UNKNOWN } from '../transport/protocol.js';
import { release, type Item, type Slot } from './item.js';

/** How many workers in a row may die loading one module before the pool breaks. */
export const LOAD_DEATHS_TO_BREAK = 3;

/** Counts, per task module, the workers that died in a row while loading it. */
export class LoadDeaths {
  readonly #inARow = new Map<string, number>();

  /** One more worker died loading `module`; returns how many in a row now. */
  died(module: string): number {
    const n = (this.#inARow.get(module) ?? 0) + 1;
    this.#inARow.set(module, n);
    return n;
  }

  /** A worker loaded `module`: the count starts again. */
  loaded(module: string): void {
    if (this.#inARow.size > 0) this.#inARow.delete(module);
  }
}

/** What crash handling needs from the scheduler. */
export interface CrashHost {
  /** What a worker is called in messages: 'thread' or 'process'. */
  workerKind(): string;
  /** True once the pool is broken. */
  isBroken(): boolean;
  /** A printable name of an item's task function. */
  taskName(item: Item): string;
  /** The module a task function is imported from (for an inline function, its name). */
  moduleOf(fnId: number): string;
  /** The pool's count of workers that died loading a module. */
  readonly loadDeaths: LoadDeaths;
  /** Puts an item back at the front of the queue. */
  requeue(item: Item): void;
  /** Fails an item's Future. */
  fail(item: Item, error: unknown): void;
  /** Breaks the pool: queued and later tasks fail with `error`. */
  break(error: BrokenExecutorError): void;
}

/** Settles what `slot` held when its worker ended unexpectedly with `code` or `signal`. */
export function settleCrash(host: CrashHost, slot: Slot, code: number | null, signal: string | null): void {
  const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
  const why = slot.error instanceof Error ? `: ${slot.error.message}` : '';
  if (!slot.ready && !host.isBroken()) {
    requeueAll(host, slot);
    // Without an error of its own, the cause says how it ended (a signal: Ctrl-C, say).
    const cause = slot.error ?? new WorkerCrashedError(`a worker ${host.workerKind()} ${how} before it was ready`, code, signal);
    host.break(new BrokenExecutorError(`a worker ${host.workerKind()} ${how} before it was ready${why}`, { cause }));
    return;
  }
  if (slot.loadingFn !== undefined) {
    const module = host.moduleOf(slot.loadingFn);
    const inARow = host.loadDeaths.died(module);
    requeueAll(host, slot);
    if (inARow >= LOAD_DEATHS_TO_BREAK) {
      const kind = host.workerKind();
      const message =
        `a worker ${kind} ${how} while loading task module ${module}${why}, ${inARow} in a row, so the pool is broken ` +
        `(does the module's top-level code end the ${kind}? guard what only the main program should run with isMain())`;
      host.break(new BrokenExecutorError(message, { cause: slot.error }));
    }
    return;
  }
  let culprit = slot.ctrl[CTRL_RUNNING] === 1 ? Atomics.load(slot.ctrl, CTRL_SEQ) : undefined;
  // A process killed by a signal cannot say which task it was in: blame the oldest it held.
  if (culprit === SEQ_UNKNOWN) culprit = slot.inflight.peek()?.seq;
  const held = slot.inflight.drain();
  for (let i = held.length - 1; i >= 0; i--) {
    const item = held[i]!;
    release(item);
    if (item.seq === culprit && item.retriesLeft === 0) {
      const name = host.taskName(item);
      host.fail(item, new WorkerCrashedError(`the worker ${host.workerKind()} running task ${name} ${how}${why}`, code, signal, { cause: slot.error }));
    } else {
      if (item.seq === culprit) item.retriesLeft--;
      host.requeue(item);
    }
  }
}

/** Puts everything `slot` held back at the front of the queue, in order. */
export function requeueAll(host: Pick<CrashHost, 'requeue'>, slot: Slot): void {
  const held = slot.inflight.drain();
  for (let i = held.length - 1; i >= 0; i--) {
    const item = held[i]!;
    release(item);
    host.requeue(item);
  }
}
