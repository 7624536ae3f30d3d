/**
 * How a SharedLifoQueue and a SharedPriorityQueue keep their records: a stack in the
 * queue's shared bytes, the next item to get always on top, and an index of where each
 * record starts growing down from the end (a slotted page).
 *
 *   ring  [record 0][record 1] … [record n-1] | free … | start(n-1) … start(1) start(0)
 *         0                                   top = TAIL          int32 words, to the ring's end
 *
 * Record k runs from start(k) to start(k+1) (the last to the top), so it needs no length
 * of its own: each takes its bytes plus 4 in the index, as a FIFO record takes its bytes
 * plus its 4-byte length. A LIFO put pushes on top. A priority put keeps the records in
 * falling order from the bottom (the smallest on top): it binary-searches its place
 * through the index, decoding only the records it compares with, moves the records above
 * that place up by its size, and shifts their index entries. An item goes below those
 * equal to it, so equal items come out in the order they were put. The caller holds the
 * queue's one lock for these stacks (gets and puts meet at the top) and has checked the
 * room; n, the number of records, is its put count less its get count.
 */
import { describe } from '../futures/future.js';
import { decode } from './records.js';
import { orderable, pythonOrder } from './order.js';

/** How a SharedQueue keeps its items (its `_order`): a FIFO ring, or a LIFO or priority stack. */
export const FIFO = 0;
export const LIFO = 1;
export const PRIORITY = 2;

/** What a put into a priority stack is ordered by: the item itself. */
export type OrderKey = { readonly item: unknown };

/** The key of an item for a SharedPriorityQueue; a TypeError for one the default ordering can never order. */
export function orderKey(item: unknown): OrderKey {
  if (!orderable(item)) {
    throw new TypeError(
      `a SharedPriorityQueue orders numbers, strings and arrays (compared element by element, as Python compares tuples); ${describe(item)} cannot be ordered (put [priority, item] pairs)`,
    );
  }
  return { item };
}

/**
 * The index, as int32 words down from the last whole word of the ring (so a ring whose
 * length is not a multiple of 4 leaves up to 3 bytes unused): entry k is words[end - k].
 */
const indexes = new WeakMap<Uint8Array, Int32Array>(); // per ring: several rings may share one region
function indexOf(ring: Uint8Array): { words: Int32Array; end: number } {
  let words = indexes.get(ring);
  if (words === undefined) indexes.set(ring, (words = new Int32Array(ring.buffer, ring.byteOffset, ring.length >> 2)));
  return { words, end: words.length - 1 };
}

/** Bytes a stack can hold, records and index together. */
export const stackBytes = (ring: Uint8Array): number => ring.length & ~3;

/**
 * Pushes `record` onto the stack of `n` records whose top is `top`: on top, or at its
 * place by `key`. Returns the new top. Throws (a TypeError from the ordering) before it
 * changes anything.
 */
export function pushRecord(ring: Uint8Array, top: number, n: number, record: Uint8Array, key: OrderKey | undefined): number {
  const { words, end } = indexOf(ring);
  const start = (k: number): number => words[end - k]!;
  // Records from the bottom fall: find the first one (from the bottom) not greater
  // than the new item: the new one goes just below it, above every greater one.
  let p = n;
  if (key !== undefined && n > 0) {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const item = decode(ring.slice(start(mid), mid + 1 < n ? start(mid + 1) : top));
      if (pythonOrder(key.item, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    p = lo;
  }
  const at = p < n ? start(p) : top;
  if (p < n) {
    // Records p.. move up by its size, and their entries one word down, each plus that size.
    ring.copyWithin(at + record.length, at, top);
    words.copyWithin(end - n, end - n + 1, end - p + 1);
    for (let w = end - n; w <= end - p - 1; w++) words[w]! += record.length;
  }
  ring.set(record, at);
  words[end - p] = at;
  return top + record.length;
}

/** Pops the top record of the stack of `n` (> 0) records whose top is `top`: its bytes (a copy) and the new top. */
export function popRecord(ring: Uint8Array, top: number, n: number): { bytes: Uint8Array; top: number } {
  const { words, end } = indexOf(ring);
  const start = words[end - (n - 1)]!;
  return { bytes: ring.slice(start, top), top: start };
}
