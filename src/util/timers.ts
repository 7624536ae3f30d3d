/**
 * Timers that honour any delay. Node fires a timer longer than 2^31-1 ms (about 24.8
 * days) after 1 ms, with only a warning: a `timeout: 3e9` would end a wait at once.
 * Every timeout concur takes from a user goes through `setLongTimeout`, which chains
 * timers no longer than that.
 */

/** The longest delay one Node timer honours; a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A one-shot timer of any length; `clear`, `unref` and `ref` work across the whole chain. */
export class LongTimeout {
  #handle: ReturnType<typeof setTimeout> | undefined;
  #left: number;
  #referenced = true;
  readonly #fn: () => void;
  readonly #maxStep: number;

  /** @internal Use setLongTimeout. */
  constructor(fn: () => void, ms: number, maxStep: number) {
    this.#fn = fn;
    this.#maxStep = maxStep;
    // As setTimeout: a delay that is not a positive number means "as soon as possible".
    this.#left = ms > 0 ? ms : 0;
    // A delay no clock reaches never fires, so nothing is scheduled (and nothing held open).
    if (this.#left !== Infinity) this.#arm();
  }

  #arm(): void {
    // Count the delay down link by link rather than against a clock: every link of a
    // Node timer lasts at least its delay, so the whole never ends early.
    const step = Math.min(this.#left, this.#maxStep);
    this.#left -= step;
    this.#handle = setTimeout(this.#fire, step);
    if (!this.#referenced) this.#handle.unref();
  }

  readonly #fire = (): void => {
    if (this.#left > 0) {
      this.#arm();
      return;
    }
    this.#handle = undefined;
    this.#fn();
  };

  /** True until it has fired or been cleared (always true for an infinite delay that was not cleared). */
  get pending(): boolean {
    return this.#handle !== undefined || this.#left === Infinity;
  }

  /** Stops it; the callback will not run. Harmless after it fired. */
  clear(): void {
    this.#left = 0;
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  /** Lets the program exit while only this timer is pending. */
  unref(): this {
    this.#referenced = false;
    this.#handle?.unref();
    return this;
  }

  /** Keeps the program alive while it is pending (the default). */
  ref(): this {
    this.#referenced = true;
    this.#handle?.ref();
    return this;
  }

  /** Whether it keeps the program alive while pending. */
  hasRef(): boolean {
    return this.#referenced;
  }
}

/**
 * setTimeout for any delay: runs `fn` once after `ms` milliseconds, however large `ms`
 * is (Infinity never fires). `maxStep` is for tests, to see the chaining without
 * waiting weeks.
 */
export function setLongTimeout(fn: () => void, ms: number, maxStep: number = MAX_TIMER_MS): LongTimeout {
  if (!(maxStep >= 1 && maxStep <= MAX_TIMER_MS)) throw new RangeError(`maxStep must be between 1 and ${MAX_TIMER_MS} ms, got ${maxStep}`);
  return new LongTimeout(fn, ms, maxStep);
}
