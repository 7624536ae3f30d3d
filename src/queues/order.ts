import { describe } from '../futures/future.js';

/**
 * Python's default ordering, as `<` orders the items of a queue.PriorityQueue: numbers
 * (and bigints) with numbers, strings with strings, arrays element by element as tuples
 * (a shorter prefix first). Anything else, or a mix, throws a TypeError as Python does.
 */
export function pythonOrder(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = pythonOrder(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TypeError(`cannot order ${describe(a)} and ${describe(b)}: the default ordering compares numbers with numbers, strings with strings, and arrays element by element`);
}

/** True for a value the default ordering may order (at its top level: an array's elements are compared when they must be). */
export function orderable(item: unknown): boolean {
  return typeof item === 'number' || typeof item === 'bigint' || typeof item === 'string' || Array.isArray(item);
}
