/**
 * Pool.map's engine: cuts the items into chunks, schedules every chunk at the call (as
 * Python's Pool does) and puts the results together in input order.
 *
 * It is not the executor's `map`: that one is an async iterator, so a million items
 * cost a million awaits. Python's map gives the whole list; so does this, with one done
 * callback per chunk. A failing map fails with the first error in input order, once
 * the chunks before it are done; as in Python, the chunks after it still run.
 */
import { CancelledError } from '../futures/errors.js';
import type { TaskFunction } from '../futures/executor.js';
import type { Future } from '../futures/future.js';
import { inputError } from '../futures/map.js';
import { CALL, CHUNK_ARGS, CHUNK_ITEMS } from '../futures/task-mode.js';
import type { PoolExecutor } from '../pool/pool-executor.js';

/** Called once with the whole list of results, or with the first error. */
export type GatherDone = (ok: boolean, value: unknown) => void;

/** The error a Future's done callback reads: its own, or CancelledError. */
export function failureOf(future: Future<unknown>): unknown {
  return future.cancelled() ? new CancelledError('the future was cancelled') : future.exceptionSync();
}

/**
 * Runs `fn` over `items` in chunks of `chunksize` on `executor`: each item one
 * argument (`single`, map) or an argument array (starmap). Calls `done` once.
 */
export function gather(executor: PoolExecutor, fn: TaskFunction, items: readonly unknown[], chunksize: number, single: boolean, done: GatherDone): void {
  const n = items.length;
  if (n === 0) {
    done(true, []);
    return;
  }
  const count = Math.ceil(n / chunksize);
  const parts: Array<ArrayLike<unknown> | undefined> = new Array(count).fill(undefined);
  let errors: Map<number, unknown> | undefined; // failed chunks, by index: rare
  let settledPrefix = 0; // chunks 0 .. settledPrefix-1 have their results
  let over = false;
  const settle = (future: Future<unknown>, k: number): void => {
    if (over) return;
    if (future._failed() || future.cancelled()) (errors ??= new Map()).set(k, inputError(failureOf(future), k * chunksize, single));
    else parts[k] = chunksize === 1 ? [future.resultSync()] : (future.resultSync() as ArrayLike<unknown>);
    // The answer is known once every chunk before the first failure has its results.
    while (settledPrefix < count) {
      if (errors?.has(settledPrefix)) {
        over = true;
        done(false, errors.get(settledPrefix));
        return;
      }
      if (parts[settledPrefix] === undefined) return;
      settledPrefix++;
    }
    over = true;
    let all: unknown[];
    try {
      all = concat(parts as ArrayLike<unknown>[], n);
    } catch (err) {
      done(false, err); // the caller's result settles, with the error, whatever went wrong
      return;
    }
    done(true, all);
  };
  const mode = chunksize === 1 ? CALL : single ? CHUNK_ITEMS : CHUNK_ARGS;
  try {
    for (let k = 0, at = 0; at < n; k++, at += chunksize) {
      const args = chunksize === 1 ? (single ? [items[at]] : (items[at] as unknown[])) : items.slice(at, at + chunksize);
      executor._schedule(fn, args, mode).addDoneCallback((future) => settle(future, k));
    }
  } catch (err) {
    over = true; // the call throws: the chunks already scheduled run, and report to no one
    throw err;
  }
}

/** The parts (arrays, or Float64Arrays of packed numbers) as one array. */
function concat(parts: ArrayLike<unknown>[], n: number): unknown[] {
  if (parts.length === 1 && Array.isArray(parts[0])) return parts[0];
  const out: unknown[] = [];
  for (const part of parts) for (let i = 0; i < part.length; i++) out.push(part[i]);
  if (out.length !== n) throw new Error(`internal: map gathered ${out.length} results for ${n} items`);
  return out;
}
