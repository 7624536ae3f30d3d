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
  if (typeof a === 'string' && typeof b === 'string') return byCodePoint(a, b);
  throw new TypeError(`cannot order ${describe(a)} and ${describe(b)}: the default ordering compares numbers with numbers, strings with strings, and arrays element by element`);
}

/**
 * Python orders strings by code point; JavaScript's `<` by UTF-16 unit, which puts a
 * character past U+FFFF (a surrogate pair, 0xD800-0xDFFF) before U+E000-U+FFFF. Only
 * the first unit that differs matters: moved so that surrogates rank above the rest.
 */
function byCodePoint(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x < y ? -1 : 1;
  }
  return a.length - b.length < 0 ? -1 : 1;
}

/** True for a value the default ordering may order (at its top level: an array's elements are compared when they must be). */
export function orderable(item: unknown): boolean {
  return typeof item === 'number' || typeof item === 'bigint' || typeof item === 'string' || Array.isArray(item);
}
