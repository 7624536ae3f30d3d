/**
 * The executor's lapse timer: it calls back once `now()` (performance.now()) has reached
 * the time it was armed for, not merely once a timer says so.
 *
 * Node's timers count in the event loop's whole milliseconds (libuv's clock, truncated),
 * not by performance.now(): a timer armed for `until - now() + 1` ms can fire a fraction of
 * a millisecond before `until` by performance.now(). Its callback, asking "has the lease
 * lapsed?", then hears no; a timer that took that as final never asked again, the Futures
 * stayed PENDING, and Redis expired the key a third of the lease later: a worker started
 * their tasks (start-cut-off's 'machine died' flake). One that fires early times itself again.
 */

/** The timer functions a LapseTimer uses (tests give fakes). */
export interface LapseClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL: LapseClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Calls `onLapse` once `clock.now()` reaches the time last armed for, however early its timers fire. */
export class LapseTimer {
  readonly #onLapse: () => void;
  readonly #clock: LapseClock;
  #until = -Infinity;
  #handle: unknown;
  #armed = false;

  constructor(onLapse: () => void, clock: LapseClock = REAL) {
    this.#onLapse = onLapse;
    this.#clock = clock;
  }

  /** Calls back once now() >= until (replacing any earlier arming). */
  arm(until: number): void {
    this.clear();
    this.#until = until;
    this.#schedule();
  }

  /** Calls back never (until armed again). */
  clear(): void {
    if (this.#armed) this.#clock.clearTimeout(this.#handle);
    this.#armed = false;
  }

  #schedule(): void {
    this.#armed = true;
    // +1: the timer's whole milliseconds; an early one still comes back through #fire.
    this.#handle = this.#clock.setTimeout(() => this.#fire(), Math.max(1, this.#until - this.#clock.now() + 1));
  }

  #fire(): void {
    this.#armed = false;
    if (this.#clock.now() < this.#until) this.#schedule();
    else this.#onLapse();
  }
}
