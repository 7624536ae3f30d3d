/**
 * How many tasks a worker is sent at once, and how many it may hold.
 *
 * Enough for about a millisecond of work, measured from the workers' own busy time per
 * function, and doubled so the next batch is already there when one ends. Tiny tasks
 * travel a thousand to a message; long ones one by one, so they spread over the
 * workers and their successors stay queued, cancellable, and free to go to any worker.
 */
const TARGET_BATCH_MS = 1;
const MAX_BATCH = 1024;
const PREFETCH_BELOW_MS = 50; // a function that runs less than this keeps one more task at its worker

/** The batching policy: learns each task function's cost, and sizes batches by it. */
export class BatchPolicy {
  /** Mean run time of each task function (by fnId), undefined until one has finished: a function's batches size by its own cost. */
  readonly #avgTaskMs: Array<number | undefined> = [];

  /** Folds in a measured run time of one task of `fnId`. */
  record(fnId: number, perTaskMs: number): void {
    const avg = this.#avgTaskMs[fnId];
    this.#avgTaskMs[fnId] = avg === undefined ? perTaskMs : avg * 0.7 + perTaskMs * 0.3;
  }

  /**
   * How many tasks a worker may hold when the task that waits first is of `fnId`. By
   * the cost of what waits first: a long function after a burst of tiny ones goes a
   * task at a time (so workers balance), not in the tiny ones' batches.
   */
  depth(fnId: number | undefined): number {
    const avg = fnId === undefined ? undefined : this.#avgTaskMs[fnId];
    const limit = avg === undefined ? 1 : Math.max(1, Math.min(MAX_BATCH, Math.floor(TARGET_BATCH_MS / Math.max(avg, 0.0005))));
    // Double-buffer tasks known to be short, so the next is there when one ends; a task
    // of a few milliseconds keeps one more in reserve (its round trip to the pool is
    // ~2% of it, as with CPython's one extra queued call); long ones go one at a time.
    return limit > 1 ? 2 * limit : avg !== undefined && avg < PREFETCH_BELOW_MS ? 2 : 1;
  }
}
