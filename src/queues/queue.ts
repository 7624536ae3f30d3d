import { Empty, Full, QueueShutDown } from '../futures/errors.js';
import { describe } from '../futures/future.js';
import { deadlineOf, remaining } from '../sync/waiting.js';
import { Deque } from '../util/deque.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';
import { untilShutDown } from './until-shutdown.js';
import { pythonOrder } from './order.js';

export { pythonOrder } from './order.js';

/** Options of a Queue. */
export interface QueueOptions {
  /** Most items held; 0 (the default) or less means no bound, as in Python. */
  maxsize?: number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A FIFO queue for coroutines in one thread: asyncio.Queue, with queue.Queue's
 * timeouts (Full / Empty when they run out) and Python 3.13's shutdown. Items are
 * held by reference. LifoQueue and PriorityQueue change only the order.
 */
export class Queue<T> implements AsyncIterable<T> {
  readonly maxsize: number;
  #getters = new Deque<Waiter>();
  #putters = new Deque<Waiter>();
  #joiners: Array<() => void> = [];
  #unfinished = 0;
  #shutdown = false;

  constructor(options: QueueOptions = {}) {
    const maxsize = options.maxsize ?? 0;
    if (typeof maxsize !== 'number' || !Number.isInteger(maxsize)) throw new TypeError(`maxsize must be an integer, got ${describe(maxsize)}`);
    this.maxsize = maxsize;
  }

  // The storage hooks, as CPython's _put/_get/_qsize.
  #items = new Deque<T>();
  /** Stores an item. */
  protected store(item: T): void {
    this.#items.push(item);
  }
  /** Removes the next item. */
  protected take(): T {
    return this.#items.shift() as T;
  }
  /** How many items are stored. */
  protected size(): number {
    return this.#items.length;
  }
  /** Drops every stored item. */
  protected clearItems(): void {
    this.#items.drain();
  }

  /** Items in the queue now. */
  qsize(): number {
    return this.size();
  }

  /** True if there are no items. */
  empty(): boolean {
    return this.size() === 0;
  }

  /** True if a bounded queue holds maxsize items. */
  full(): boolean {
    return this.maxsize > 0 && this.size() >= this.maxsize;
  }

  /** Adds an item, waiting up to `timeout` ms for room; Full when the time runs out, QueueShutDown after shutdown. */
  async put(item: T, options: { timeout?: number } = {}): Promise<void> {
    // The timeout counts from the call, as queue.Queue's: a waiter woken to find the
    // room taken again waits only for what is left of it.
    const deadline = deadlineOf(options.timeout);
    while (this.full()) {
      if (this.#shutdown) throw new QueueShutDown('put on a shut-down queue');
      await this.#wait(this.#putters, deadline, () => new Full(`queue still full after ${options.timeout} ms`));
    }
    this.putNowait(item);
  }

  /** Adds an item at once; Full if there is no room. */
  putNowait(item: T): void {
    if (this.#shutdown) throw new QueueShutDown('put on a shut-down queue');
    if (this.full()) throw new Full(`queue is full (maxsize ${this.maxsize})`);
    this.store(item);
    this.#unfinished++;
    this.#wakeOne(this.#getters);
  }

  /** Removes and returns the next item, waiting up to `timeout` ms; Empty when the time runs out. */
  async get(options: { timeout?: number } = {}): Promise<T> {
    const deadline = deadlineOf(options.timeout);
    while (this.empty()) {
      if (this.#shutdown) throw new QueueShutDown('get on a shut-down, empty queue');
      await this.#wait(this.#getters, deadline, () => new Empty(`no item within ${options.timeout} ms`));
    }
    return this.getNowait();
  }

  /** Removes and returns the next item at once; Empty if there is none. */
  getNowait(): T {
    if (this.empty()) {
      if (this.#shutdown) throw new QueueShutDown('get on a shut-down, empty queue');
      throw new Empty('queue is empty');
    }
    const item = this.take();
    this.#wakeOne(this.#putters);
    return item;
  }

  /** Marks one got item as processed, for `join()`. Throws if called more times than items were put. */
  taskDone(): void {
    if (this.#unfinished <= 0) throw new RangeError('taskDone() called too many times');
    if (--this.#unfinished === 0) this.#releaseJoiners();
  }

  /** Waits until every item put has been marked with taskDone(). */
  join(): Promise<void> {
    if (this.#unfinished === 0) return Promise.resolve();
    return new Promise((resolve) => this.#joiners.push(resolve));
  }

  /**
   * Shuts the queue down: puts raise QueueShutDown at once; gets do once the queue is
   * empty, or at once with `immediate` (which also drops the items left and counts
   * them as done for `join`).
   */
  shutdown(options: { immediate?: boolean } = {}): void {
    this.#shutdown = true;
    if (options.immediate) {
      while (!this.empty()) {
        this.take();
        if (this.#unfinished > 0) this.#unfinished--;
      }
      this.clearItems();
      if (this.#unfinished === 0) this.#releaseJoiners();
    }
    const error = new QueueShutDown('the queue was shut down');
    for (const w of this.#getters.drain()) w.reject(error);
    for (const w of this.#putters.drain()) w.reject(error);
  }

  /** True after shutdown(). */
  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /** Yields items as they come, until the queue is shut down and drained. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return untilShutDown(() => this.get());
  }

  #wait(waiters: Deque<Waiter>, deadline: number, onTimeout: () => Error): Promise<void> {
    const timeout = deadline === Infinity ? undefined : remaining(deadline);
    return new Promise<void>((resolve, reject) => {
      let timer: LongTimeout | undefined;
      const waiter: Waiter = {
        resolve: () => {
          timer?.clear();
          resolve();
        },
        reject: (e) => {
          timer?.clear();
          reject(e);
        },
      };
      waiters.push(waiter);
      if (timeout !== undefined) {
        timer = setLongTimeout(() => {
          waiters.removeFirst((w) => w === waiter);
          reject(onTimeout());
        }, timeout);
      }
    });
  }

  #wakeOne(waiters: Deque<Waiter>): void {
    waiters.shift()?.resolve();
  }

  #releaseJoiners(): void {
    const js = this.#joiners;
    this.#joiners = [];
    for (const j of js) j();
  }
}

/** Last in, first out: asyncio.LifoQueue. */
export class LifoQueue<T> extends Queue<T> {
  #stack: T[] = [];
  protected override store(item: T): void {
    this.#stack.push(item);
  }
  protected override take(): T {
    return this.#stack.pop() as T;
  }
  protected override size(): number {
    return this.#stack.length;
  }
  protected override clearItems(): void {
    this.#stack.length = 0;
  }
}

/** pythonOrder, saying what to do instead when it cannot order two items. */
function defaultOrder(a: unknown, b: unknown): number {
  try {
    return pythonOrder(a, b);
  } catch (err) {
    throw new TypeError(`PriorityQueue ${(err as Error).message}; pass a compare function`);
  }
}

/** Smallest first: asyncio.PriorityQueue, ordered by `compare` or Python's default ordering. */
export class PriorityQueue<T> extends Queue<T> {
  #heap: T[] = [];
  readonly #compare: (a: T, b: T) => number;

  constructor(options: QueueOptions & { compare?: (a: T, b: T) => number } = {}) {
    const { compare, ...rest } = options;
    super(rest);
    if (compare !== undefined && typeof compare !== 'function') throw new TypeError(`compare must be a function, got ${describe(compare)}`);
    this.#compare = compare ?? defaultOrder;
  }

  /**
   * Sifts the item up along its path, finding its place before anything moves: a
   * comparison that throws (items the ordering cannot order) leaves the heap as it was,
   * so a refused put puts nothing.
   */
  protected override store(item: T): void {
    const h = this.#heap;
    let at = h.length;
    while (at > 0 && this.#compare(item, h[(at - 1) >> 1]!) < 0) at = (at - 1) >> 1;
    h.push(item);
    for (let i = h.length - 1; i > at; ) {
      const parent = (i - 1) >> 1;
      h[i] = h[parent]!;
      i = parent;
    }
    h[at] = item;
  }

  /**
   * Takes the top, then sifts the last item down from the root. The top goes out
   * whatever happens: two items put apart that the ordering cannot order (such as
   * [2, 'x'] and [2, 3]) may meet here, and a comparison that throws counts as "not
   * less", so those come out in no set order among themselves, the others in order,
   * and none is lost.
   */
  protected override take(): T {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      let child = l;
      if (r < h.length && (this.#less(h[r]!, h[l]!) || (!this.#less(h[l]!, h[r]!) && !this.#less(h[l]!, last)))) child = r;
      if (!this.#less(h[child]!, last)) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = last;
    return top;
  }

  /** True if `a` comes before `b`; false too when they cannot be ordered. */
  #less(a: T, b: T): boolean {
    try {
      return this.#compare(a, b) < 0;
    } catch {
      return false;
    }
  }

  protected override size(): number {
    return this.#heap.length;
  }

  protected override clearItems(): void {
    this.#heap.length = 0;
  }
}
