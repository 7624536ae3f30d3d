import { TimeoutError } from './errors.js';
import { Deque } from '../util/deque.js';
import type { Future } from './future.js';

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
  /** Submits one argument array, or (chunk = true) an array of argument arrays resolving to an array of results. */
  submit(args: unknown[], chunk: boolean): Future<unknown>;
}

interface Entry {
  future: Future<unknown>;
  chunk: boolean;
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
  const toArgs = single ? (x: unknown): unknown[] => [x] : (x: unknown): unknown[] => x as unknown[];
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
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const submitChunk = (chunk: unknown[][]): void => {
    const isChunk = chunksize > 1;
    const entry: Entry = { future: plan.submit(isChunk ? chunk : chunk[0]!, isChunk), chunk: isChunk };
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
  const syncIt = isSync ? (source as Iterable<unknown>)[Symbol.iterator]() : undefined;
  const asyncIt = isSync ? undefined : (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let pumping = false;

  const pumpSync = (): void => {
    try {
      while (!sourceDone && !stopped && live() < buffersize) {
        const chunk: unknown[][] = [];
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
        const chunk: unknown[][] = [];
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
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => done(signal!.reason);
      const onDone = (): void => done();
      const done = (error?: unknown): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (watch) watch._removeDoneCallback(onDone);
        if (wake === onDone) wake = undefined;
        if (error !== undefined) reject(error);
        else resolve();
      };
      if (left !== undefined) timer = setTimeout(() => done(timeoutError()), left);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (watch) watch.addDoneCallback(onDone);
      else wake = onDone;
    });
  };

  const timeoutError = (): TimeoutError =>
    new TimeoutError(`map: ${live()} submitted chunk(s) unfinished after ${timeout} ms`);

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    for (const e of outstanding.drain()) e.future.cancel();
    for (const e of unorderedLive) e.future.cancel();
    unorderedLive.clear();
    try {
      if (syncIt) syncIt.return?.();
      else void asyncIt!.return?.()?.then(undefined, () => {});
    } catch {
      // a source that fails to close must not hide the reason the map ended
    }
  };

  async function* results(): AsyncGenerator<unknown> {
    try {
      for (;;) {
        let entry: Entry | undefined;
        if (ordered) {
          const head = (): boolean => outstanding.length > 0 || (sourceDone && !pumping);
          const w = waitUntil(head, undefined);
          if (w) await w;
          entry = outstanding.peek();
          if (entry === undefined) break;
          const w2 = waitUntil(() => entry!.future.done(), entry.future);
          if (w2) await w2;
          outstanding.shift();
        } else {
          const w = waitUntil(() => completed.length > 0 || (unorderedLive.size === 0 && sourceDone && !pumping), undefined);
          if (w) await w;
          entry = completed.shift();
          if (entry === undefined) break;
          unorderedLive.delete(entry);
        }
        pump();
        const value = await entry.future.result();
        if (entry.chunk) yield* value as unknown[];
        else yield value;
      }
      if (sourceError) throw sourceError.error;
    } finally {
      stop();
    }
  }

  pump();
  return results();
}
