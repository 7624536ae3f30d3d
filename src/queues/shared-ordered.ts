/**
 * SharedQueue's other orders: LIFO and priority across threads and processes (Python's
 * queue.LifoQueue and queue.PriorityQueue). The items sit in a stack in shared memory
 * (shared-stack.ts); every method is SharedQueue's.
 */
import { registerShared } from '../sync/shared.js';
import { SharedQueue, type SharedQueueOptions } from './shared-queue.js';
import { LIFO, PRIORITY } from './shared-stack.js';

/** Last in, first out across threads and processes: queue.LifoQueue, with SharedQueue's API. */
export class SharedLifoQueue<T = unknown> extends SharedQueue<T> {
  /** @internal */
  static readonly _ORDER = LIFO;
}

/** Options of a SharedPriorityQueue: a SharedQueue's; no `compare` (a function cannot cross into another thread or process). */
export interface SharedPriorityQueueOptions extends SharedQueueOptions {
  /** Refused: shared items are ordered by the default ordering. */
  compare?: never;
}

/**
 * Smallest first across threads and processes: queue.PriorityQueue, with SharedQueue's
 * API. Items are ordered as Python orders them (numbers, strings, arrays element by
 * element as tuples); a put of an item that cannot be ordered with the others throws a
 * TypeError and puts nothing. Equal items come out in the order they were put.
 */
export class SharedPriorityQueue<T = unknown> extends SharedQueue<T> {
  /** @internal */
  static readonly _ORDER = PRIORITY;

  constructor(options: SharedPriorityQueueOptions = {}) {
    if ((options as { compare?: unknown }).compare !== undefined) {
      throw new TypeError(
        'a SharedPriorityQueue takes no compare function: a function cannot cross into another thread or process. Items are ordered by the default ordering (numbers, strings, arrays element by element); put [priority, item] pairs to order by a key',
      );
    }
    super(options);
  }
}


registerShared('SharedLifoQueue', SharedLifoQueue);
registerShared('SharedPriorityQueue', SharedPriorityQueue);
