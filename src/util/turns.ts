/**
 * Fair turns of the event loop for synchronous work that many coroutines share.
 *
 *   coroutine A ─ item ─ item ─┐ (the turn has run SLICE_MS)
 *   coroutine B ───────────────┼─ waits ──────────────┐
 *   coroutine A ───────────────┴─ waits ─────┐        │
 *   ── turn ends: timers, I/O, signal handlers run ───┼── ...
 *   next turn: B resumes (first come), runs items; A ─┘ resumes once B's item returns
 *   and the turn still has room, or in a later turn.
 *
 * Coroutines that resume together (all awaiting one module load, say) run one after
 * another in a single chain of microtasks, in which no timer, I/O callback or signal
 * handler runs: with synchronous items, Ctrl-C waited for every one of them. A coroutine
 * calls `take()` before each item: most calls return at once; once the turn has run for a
 * slice, callers queue, and each later turn lets them go first come, first served, as long
 * as it has room, before any newcomer; the one let go runs items until the turn is full.
 */

/** How long items may run back to back in one turn of the event loop, in ms. */
const SLICE_MS = 8;
const RESOLVED = Promise.resolve();

/** Turns of this thread's event loop, shared by the coroutines that call `take()`. */
export class Turns {
  /** When this turn began running items; undefined until one runs in it. */
  #began: number | undefined;
  readonly #waiting: Array<() => void> = [];
  #armed = false;
  readonly #endTurn = (): void => {
    this.#began = undefined;
  };
  readonly #resume = (): void => {
    this.#armed = false;
    this.#next();
  };
  readonly #next = (): void => {
    if (this.#waiting.length === 0) return;
    if (this.#isLong()) return this.#arm();
    this.#waiting.shift()!();
    // After the resumed caller's item (its synchronous part): the next one, if room is
    // left. (A promise's reaction: queueMicrotask carries an async context, which costs.)
    void RESOLVED.then(this.#next);
  };

  /**
   * Undefined when the caller may run its next item now; otherwise a promise of its turn.
   * `now` is performance.now() (a caller that has just read it spares reading it again).
   * `continuing`: the caller ran an item just before, with no await since: it holds the
   * turn, and goes on while the turn has room even though others wait (one item each and
   * back to the end of the line would cost a promise an item). A newcomer waits behind them.
   */
  take(now = performance.now(), continuing = false): Promise<void> | undefined {
    if ((continuing || this.#waiting.length === 0) && !this.#isLong(now)) return undefined;
    return new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      this.#arm();
    });
  }

  /** True once this turn has run items for a slice (and marks a turn's start). */
  #isLong(now = performance.now()): boolean {
    if (this.#began === undefined) {
      this.#began = now;
      setImmediate(this.#endTurn);
      return false;
    }
    return now - this.#began >= SLICE_MS;
  }

  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    setImmediate(this.#resume);
  }
}
