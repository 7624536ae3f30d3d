/**
 * How a SharedLifoQueue and a SharedPriorityQueue keep their records: a stack in the
 * queue's shared bytes, the next item to get always on top.
 *
 *   ring  [payload][length u32] [payload][length u32] … [payload][length u32] | free …
 *         0                      (rising order for a priority queue)          top = TAIL
 *
 * Each record ends with its length, so the top one is found from the top. A LIFO put
 * pushes on top. A priority put walks the lengths down from the top (no decoding), finds
 * its place by binary search (decoding only the records it compares with), and moves the
 * records above that place up by its size: the smallest item stays on top, and an item
 * goes below those equal to it, so equal items come out in the order they were put.
 * Callers hold the queue's one lock for these stacks (gets and puts meet at the top) and
 * have checked the room.
 */
import { describe } from '../futures/future.js';
import { decode, readU32, writeU32 } from './records.js';
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

/** Pushes `record` onto the stack whose top is `top`: on top, or at its place by `key`. Returns the new top. */
export function pushRecord(ring: Uint8Array, top: number, record: Uint8Array, key: OrderKey | undefined): number {
  const size = record.length + 4;
  let at = top;
  if (key !== undefined && top > 0) {
    // Where each record starts, from the top down: their items rise.
    const starts: number[] = [];
    for (let end = top; end > 0; ) {
      end -= 4 + readU32(ring, end - 4);
      starts.push(end);
    }
    const itemAt = (i: number): unknown => {
      const start = starts[i]!;
      return decode(ring.slice(start, start + readU32(ring, i === 0 ? top - 4 : starts[i - 1]! - 4)));
    };
    // The first record (from the top) greater than the new item: it goes just above it.
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pythonOrder(key.item, itemAt(mid)) < 0) hi = mid;
      else lo = mid + 1;
    }
    at = lo === 0 ? top : starts[lo - 1]!;
    ring.copyWithin(at + size, at, top);
  }
  ring.set(record, at);
  writeU32(ring, at + record.length, record.length);
  return top + size;
}

/** Pops the top record of the stack whose top is `top`: its bytes (a copy) and the new top. */
export function popRecord(ring: Uint8Array, top: number): { bytes: Uint8Array; top: number } {
  const length = readU32(ring, top - 4);
  const start = top - 4 - length;
  return { bytes: ring.slice(start, start + length), top: start };
}
