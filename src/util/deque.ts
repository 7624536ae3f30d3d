/**
 * A FIFO with O(1) push, shift and unshift: a growable ring buffer. Arrays'
 * `shift` copies on large arrays, and the pool's queue can hold a million tasks.
 */
export class Deque<T> {
  #buf: (T | undefined)[] = new Array(16);
  #head = 0;
  #size = 0;

  /** Number of items. */
  get length(): number {
    return this.#size;
  }

  /** Adds at the back. */
  push(item: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) & (this.#buf.length - 1)] = item;
    this.#size++;
  }

  /** Adds at the front. */
  unshift(item: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#buf.length - 1);
    this.#buf[this.#head] = item;
    this.#size++;
  }

  /** Removes from the front. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#size--;
    return item;
  }

  /** The front item, left in place. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head];
  }

  /**
   * Removes the first item for which `pred` is true: O(i) to find it at index i, and the
   * gap is closed from the nearer end in place, so taking items out front first (one
   * signal aborting a whole queue, in order) costs O(1) each.
   */
  removeFirst(pred: (item: T) => boolean): T | undefined {
    const mask = this.#buf.length - 1;
    for (let i = 0; i < this.#size; i++) {
      const item = this.#buf[(this.#head + i) & mask] as T;
      if (!pred(item)) continue;
      if (i < this.#size / 2) {
        // Move the items before it one place back, and the head with them.
        for (let j = i; j > 0; j--) this.#buf[(this.#head + j) & mask] = this.#buf[(this.#head + j - 1) & mask];
        this.#buf[this.#head] = undefined;
        this.#head = (this.#head + 1) & mask;
      } else {
        // Move the items after it one place forward.
        for (let j = i; j < this.#size - 1; j++) this.#buf[(this.#head + j) & mask] = this.#buf[(this.#head + j + 1) & mask];
        this.#buf[(this.#head + this.#size - 1) & mask] = undefined;
      }
      this.#size--;
      return item;
    }
    return undefined;
  }

  /**
   * Keeps the items for which `keep` is true, in order, and hands each other one to
   * `dropped`; returns how many are kept. O(n), and no copy when every item stays.
   */
  retain(keep: (item: T) => boolean, dropped: (item: T) => void): number {
    let kept = 0;
    for (const item of this) if (keep(item)) kept++;
    if (kept < this.#size) {
      for (const item of this.drain()) {
        if (keep(item)) this.push(item);
        else dropped(item);
      }
    }
    return kept;
  }

  /** Removes and returns every item, front first. */
  drain(): T[] {
    const out: T[] = [];
    for (let x = this.shift(); x !== undefined || this.#size > 0; x = this.shift()) out.push(x as T);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#buf[(this.#head + i) & (this.#buf.length - 1)] as T;
  }

  #grow(): void {
    const old = this.#buf;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buf = next;
    this.#head = 0;
  }
}
