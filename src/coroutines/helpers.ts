import { TimeoutError } from '../futures/errors.js';
import { checkTimeout, describe } from '../futures/future.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';
import { offAbort, onAbort } from '../util/abort.js';

/** Resolves after `ms` milliseconds; rejects with `signal.reason` if the signal aborts first. */
export function sleep(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  // Not a timeout that may be left out: Python's sleep(None) raises, and this resolved at once.
  if (typeof ms !== 'number') throw new TypeError(`sleep: ms must be a number of milliseconds, got ${describe(ms)}`);
  checkTimeout(ms, 'ms');
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const abort = (): void => {
      timer.clear();
      reject(signal!.reason);
    };
    const timer = setLongTimeout(() => {
      if (signal !== undefined) offAbort(signal, abort);
      resolve();
    }, ms);
    if (signal !== undefined) onAbort(signal, abort);
  });
}

/**
 * Waits for `work` at most `ms` milliseconds: asyncio.timeout. `work` is a promise, or
 * a function given an AbortSignal that aborts when the time runs out (so the work can
 * stop itself). Rejects with TimeoutError when it does. `ms` undefined sets no deadline,
 * as asyncio.wait_for(aw, None).
 */
export function timeout<T>(ms: number | undefined, work: PromiseLike<T> | ((signal: AbortSignal) => T | PromiseLike<T>)): Promise<T> {
  checkTimeout(ms, 'ms');
  const controller = new AbortController();
  let timer: LongTimeout | undefined;
  const expired =
    ms === undefined
      ? undefined
      : new Promise<never>((_, reject) => {
          timer = setLongTimeout(() => {
            const error = new TimeoutError(`timed out after ${ms} ms`);
            controller.abort(error);
            reject(error);
          }, ms);
        });
  let running: PromiseLike<T>;
  try {
    running = typeof work === 'function' ? Promise.resolve(work(controller.signal)) : work;
  } catch (err) {
    timer?.clear();
    return Promise.reject(err);
  }
  if (running === null || typeof running !== 'object' || typeof running.then !== 'function') {
    timer?.clear();
    throw new TypeError(`timeout expects a promise or a function, got ${describe(work)}`);
  }
  if (expired === undefined) return Promise.resolve(running);
  return Promise.race([running, expired]).finally(() => timer?.clear());
}

/**
 * Waits for every awaitable, results in order: asyncio.gather. By default the first
 * failure rejects (the others keep running); with `returnExceptions` failures are
 * returned in their places instead.
 */
export function gather<T extends readonly unknown[]>(awaitables: T, options?: { returnExceptions?: false }): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }>;
export function gather<T extends readonly unknown[]>(awaitables: T, options: { returnExceptions: true }): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> | unknown }>;
export function gather(awaitables: readonly unknown[], options: { returnExceptions?: boolean } = {}): Promise<unknown[]> {
  if (!Array.isArray(awaitables)) throw new TypeError(`gather expects an array of awaitables, got ${describe(awaitables)}`);
  const all = awaitables.map((a) => Promise.resolve(a));
  if (!options.returnExceptions) return Promise.all(all);
  return Promise.all(all.map((p) => p.then((v) => v, (e: unknown) => e)));
}
