/** How a pool worker calls a task's function: a call with its arguments inline in the message, or a map chunk. */
import { reviveArg } from '../transport/crossing.js';
import { packNumbers } from '../transport/numbers.js';

/** Calls `fn` with the `argc` arguments inline in `msg` from `at`: one argument (the usual call) without an array. */
export function callInline(fn: Function, msg: unknown[], at: number, argc: number): unknown {
  if (argc === 1) return fn(reviveArg(msg[at]));
  if (argc === 0) return fn();
  const args = msg.slice(at, at + argc);
  for (let i = 0; i < argc; i++) args[i] = reviveArg(args[i]);
  return fn(...args);
}

/**
 * Runs `fn` over each item (`items`) or argument array of a chunk in order, as Python's
 * _process_chunk; goes async only at the first promise. Results that are all numbers
 * come back as a Float64Array whose buffer is given to `moveBack`.
 */
export function runChunk(
  fn: Function,
  chunk: ArrayLike<unknown>,
  items: boolean,
  moveBack: (buffer: ArrayBuffer) => void,
): unknown[] | Float64Array | Promise<unknown[] | Float64Array> {
  const out: unknown[] = new Array(chunk.length);
  for (let i = 0; i < chunk.length; i++) {
    const v = items ? fn(chunk[i]) : fn(...(chunk[i] as unknown[]));
    if (v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function') {
      return finishChunk(fn, chunk, items, out, i, v as PromiseLike<unknown>, moveBack);
    }
    out[i] = v;
  }
  return packed(out, moveBack);
}

/** Results that are all numbers go back as a Float64Array, moved rather than copied between threads. */
function packed(out: unknown[], moveBack: (buffer: ArrayBuffer) => void): unknown[] | Float64Array {
  const numbers = packNumbers(out);
  if (numbers instanceof Float64Array) moveBack(numbers.buffer as ArrayBuffer);
  return numbers;
}

async function finishChunk(
  fn: Function,
  chunk: ArrayLike<unknown>,
  items: boolean,
  out: unknown[],
  from: number,
  pending: PromiseLike<unknown>,
  moveBack: (buffer: ArrayBuffer) => void,
): Promise<unknown[] | Float64Array> {
  out[from] = await pending;
  for (let i = from + 1; i < chunk.length; i++) out[i] = await (items ? fn(chunk[i]) : fn(...(chunk[i] as unknown[])));
  return packed(out, moveBack);
}
