import { TimeoutError } from './errors.js';
import { offAbort, onAbort } from '../util/abort.js';
import { Deque } from '../util/deque.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';
import type { Future } from './future.js';
import { CALL, CHUNK_ARGS, CHUNK_ITEMS, type TaskMode } from './task-mode.js';

/** Marks an iterable whose items are single arguments (`map`), not argument arrays (`starmap`). */
export class SingleArgs<T> {
  constructor(readonly source: Iterable<T> | AsyncIterable<T>) {}
}

/** How `runMap` submits and orders. */
export interface MapPlan {
  chunksize: number;
  buffersize: number;
  ordered: boolean;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  /** Submits one argument array, or a chunk (see TaskMode) resolving to an array of results. */
  submit(args: unknown[], mode: TaskMode): Future<unknown>;
  /**
   * Python's IMapIterator (the Pool face's imap): a failed item (not a chunk) is thrown by
   * its next() and the iteration goes on with the items after it (otherwise, and for a
   * failed chunk, the error ends the iteration); and an iteration that ends early (a
   * failed chunk, return()) cancels nothing, as Python's iterator only reads results.
   */
  keepGoing?: boolean;
}

interface Entry {
  future: Future<unknown>;
  chunk: boolean;
  /** The place in the input of the entry's first item. */
  first: number;
}

/**
 * A submission's argument that could not be sent: which item of its chunk (0 when not a
 * chunk), which argument of that item's call, what it is, and the rest of the message
 * ("cannot be sent to a worker thread for task f: DataCloneError: ...").
 */
export interface Unsendable {
  at: number;
  argument: number;
  what: string;
  rest: string;
}

const unsendable = new WeakMap<Error, Unsendable>();

/** Records where the argument that made `error` sat, so that a map can name its input (see inputError). */
export function markUnsendable(error: Error, where: Unsendable): void {
  unsendable.set(error, where);
}

/**
 * `error`, the failure of a map's submission whose first item is input `first`; for an
 * argument that could not be sent, an error naming the input (`single`: items are the
 * task's one argument, as in `map`, not argument arrays, as in `starmap`).
 */
export function inputError(error: unknown, first: number, single: boolean): unknown {
  const where = error instanceof Error ? unsendable.get(error) : undefined;
  if (where === undefined) return error;
  const arg = single ? ` (${where.what})` : `, argument ${where.argument} (${where.what}),`;
  return new TypeError(`input ${first + where.at} of the map${arg} ${where.rest}`, { cause: (error as Error).cause });
}

/**
 * The engine under `map`/`starmap`: submits eagerly (Python starts work at the call,
 * not at the first `next()`), keeps at most `buffersize` chunks outstanding, yields in
 * input or completion order, and on any exit (error, timeout, abort, `break`) cancels
 * every chunk that has not started.
 */
export function runMap<A>(input: Iterable<A> | AsyncIterable<A> | SingleArgs<unknown>, plan: MapPlan): AsyncIterableIterator<unknown> {
  const { chunksize, buffersize, ordered, timeout, signal } = plan;
  const single = input instanceof SingleArgs;
  const source = (single ? input.source : input) as Iterable<unknown> | AsyncIterable<unknown>;
  const chunked = chunksize > 1;
  // A chunk of map items travels as the items themselves, not as one-element arrays.
  const toArgs = single && !chunked ? (x: unknown): unknown => [x] : (x: unknown): unknown => x;
  const mode: TaskMode = !chunked ? CALL : single ? CHUNK_ITEMS : CHUNK_ARGS;
  const deadline = timeout === undefined ? undefined : performance.now() + timeout;

  // Submitted and not yet yielded, in input order (ordered) or as a set (unordered).
  const outstanding = new Deque<Entry>();
  const unorderedLive = new Set<Entry>();
  const completed = new Deque<Entry>(); // for ordered: false, in completion order
  const live = (): number => (ordered ? outstanding.length : unorderedLive.size);
  let sourceDone = false;
  let sourceError: { error: unknown } | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  // The wait in progress (at most one: next() calls run one at a time), so that return()
  // can end it rather than leave its next() pending for good.
  let waiting: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  let submitted = 0; // input items submitted so far
  const submitChunk = (chunk: unknown[]): void => {
    const entry: Entry = { future: plan.submit(chunked ? chunk : (chunk[0] as unknown[]), mode), chunk: chunked, first: submitted };
    submitted += chunk.length;
    if (ordered) outstanding.push(entry);
    else {
      unorderedLive.add(entry);
      entry.future.addDoneCallback(() => {
        completed.push(entry);
        notify();
      });
    }
  };

  const isSync = typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function';
  const syncIt = isSync && !(single && chunked && Array.isArray(source)) ? (source as Iterable<unknown>)[Symbol.iterator]() : undefined;
  const asyncIt = isSync ? undefined : (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let pumping = false;

  // An array of map items is cut into chunks with slice(), not walked item by item.
  const array = single && chunked && Array.isArray(source) ? (source as unknown[]) : undefined;
  let arrayAt = 0;

  const pumpSync = (): void => {
    try {
      while (array !== undefined && !sourceDone && !stopped && live() < buffersize) {
        const chunk = array.slice(arrayAt, arrayAt + chunksize);
        arrayAt += chunk.length;
        if (arrayAt >= array.length) sourceDone = true;
        if (chunk.length > 0) submitChunk(chunk);
      }
      while (!sourceDone && !stopped && live() < buffersize) {
        const chunk: unknown[] = [];
        while (chunk.length < chunksize) {
          const r = syncIt!.next();
          if (r.done) {
            sourceDone = true;
            break;
          }
          chunk.push(toArgs(r.value));
        }
        if (chunk.length > 0) submitChunk(chunk);
      }
    } catch (error) {
      sourceError = { error };
      sourceDone = true;
    }
  };

  const pumpAsync = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      while (!sourceDone && !stopped && live() < buffersize) {
        const chunk: unknown[] = [];
        while (chunk.length < chunksize) {
          const r = await asyncIt!.next();
          if (r.done) {
            sourceDone = true;
            break;
          }
          chunk.push(toArgs(r.value));
        }
        if (chunk.length > 0 && !stopped) submitChunk(chunk);
        notify();
      }
    } catch (error) {
      sourceError = { error };
      sourceDone = true;
    } finally {
      pumping = false;
      notify();
    }
  };

  const pump = (): void => {
    if (isSync) pumpSync();
    else void pumpAsync();
  };

  /** Resolves when `ready()` holds, the deadline passes (TimeoutError) or the signal aborts. */
  const waitUntil = (ready: () => boolean, watch: Future<unknown> | undefined): Promise<void> | undefined => {
    if (signal?.aborted) throw signal.reason;
    if (ready()) return undefined;
    const left = deadline === undefined ? undefined : deadline - performance.now();
    if (left !== undefined && left <= 0) throw timeoutError();
    return new Promise<void>((resolve, reject) => {
      let timer: LongTimeout | undefined;
      const abort = (): void => done(signal!.reason);
      const onDone = (): void => done();
      const done = (error?: unknown): void => {
        if (waiting === onDone) waiting = undefined;
        timer?.clear();
        if (signal !== undefined) offAbort(signal, abort);
        if (watch) watch._removeDoneCallback(onDone);
        if (wake === onDone) wake = undefined;
        if (error !== undefined) reject(error);
        else resolve();
      };
      if (left !== undefined) timer = setLongTimeout(() => done(timeoutError()), left);
      if (signal !== undefined) onAbort(signal, abort);
      if (watch) watch.addDoneCallback(onDone);
      else wake = onDone;
      waiting = onDone;
    });
  };

  const timeoutError = (): TimeoutError =>
    new TimeoutError(`map: ${live()} submitted chunk(s) unfinished after ${timeout} ms`);

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    waiting?.();
    const cancel = plan.keepGoing !== true;
    for (const e of outstanding.drain()) if (cancel) e.future.cancel();
    for (const e of unorderedLive) if (cancel) e.future.cancel();
    unorderedLive.clear();
    try {
      if (syncIt) syncIt.return?.();
      else if (asyncIt) void asyncIt.return?.()?.then(undefined, () => {});
    } catch {
      // a source that fails to close must not hide the reason the map ended
    }
  };

  /** Waits for the next finished entry in yield order; undefined at the end of the input. */
  const nextEntry = async (): Promise<Entry | undefined> => {
    // Each wait is looked at again after it ends: a wake-up (a submission, say) is a
    // reason to look, not an answer. No await at all when the answer is already there.
    // A wait that ends because return() stopped the map ends the iteration.
    let entry: Entry | undefined;
    if (ordered) {
      const ready = (): boolean => stopped || outstanding.length > 0 || (sourceDone && !pumping);
      for (let w = waitUntil(ready, undefined); w; w = waitUntil(ready, undefined)) await w;
      entry = outstanding.peek();
      if (entry === undefined || stopped) return undefined;
      const future = entry.future;
      const ended = (): boolean => stopped || future.done();
      for (let w = waitUntil(ended, future); w; w = waitUntil(ended, future)) await w;
      if (stopped) return undefined;
      outstanding.shift();
    } else {
      const ready = (): boolean => stopped || completed.length > 0 || (unorderedLive.size === 0 && sourceDone && !pumping);
      for (let w = waitUntil(ready, undefined); w; w = waitUntil(ready, undefined)) await w;
      if (stopped) return undefined;
      entry = completed.shift();
      if (entry === undefined) return undefined;
      unorderedLive.delete(entry);
    }
    pump();
    return entry;
  };

  // Hand-rolled rather than an async generator: a chunk's results are served straight
  // from an array, one resolved promise per item, which keeps map over a million tiny
  // items from being bound by generator machinery.
  let chunk: unknown[] = [];
  let at = 0;
  let finished = false;
  const end = (): IteratorResult<unknown> => {
    finished = true;
    stop();
    return { value: undefined, done: true };
  };
  const slowNext = async (): Promise<IteratorResult<unknown>> => {
    let itemFailed = false; // the error is one item's own, and keepGoing lets the iteration go on
    try {
      for (;;) {
        const entry = await nextEntry();
        if (finished) return { value: undefined, done: true }; // return() was called meanwhile
        if (entry === undefined) {
          if (sourceError) throw sourceError.error;
          return end();
        }
        let value: unknown;
        try {
          value = await entry.future.result();
        } catch (error) {
          itemFailed = plan.keepGoing === true && !entry.chunk;
          throw inputError(error, entry.first, single);
        }
        if (finished) return { value: undefined, done: true };
        if (!entry.chunk) return { value, done: false };
        chunk = value as unknown[];
        at = 0;
        if (chunk.length > 0) return { value: chunk[at++], done: false };
      }
    } catch (error) {
      // A result return() cancelled, or a wait it cut short, is not the caller's error.
      if (finished) return { value: undefined, done: true };
      if (!itemFailed) end();
      throw error;
    }
  };
  const step = (): Promise<IteratorResult<unknown>> => {
    if (at < chunk.length) return Promise.resolve({ value: chunk[at++], done: false });
    if (finished) return Promise.resolve({ value: undefined, done: true });
    return slowNext();
  };
  // next() calls made while one is pending run after it, in call order: each reads and
  // moves the shared place (the head entry, the chunk), and a wait has a single waker.
  let pendingNexts = 0;
  let lastNext: Promise<IteratorResult<unknown>> | undefined;
  const settledNext = (): void => {
    pendingNexts--;
  };
  const iterator: AsyncIterableIterator<unknown> = {
    next(): Promise<IteratorResult<unknown>> {
      if (pendingNexts === 0 && (at < chunk.length || finished)) return step();
      const p = (pendingNexts === 0 ? slowNext() : lastNext!.then(step, step)).finally(settledNext);
      pendingNexts++;
      lastNext = p;
      return p;
    },
    return(): Promise<IteratorResult<unknown>> {
      chunk = [];
      return Promise.resolve(end());
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };

  pump();
  return iterator;
}
