import { CancelledError } from '../futures/errors.js';
import { describe } from '../futures/future.js';
import { isWithin } from '../util/self-wait.js';

/**
 * Structured concurrency in one thread: asyncio.TaskGroup. Every child gets the
 * group's AbortSignal; the first failure aborts it, so siblings can stop; leaving the
 * group waits for every child. One failure is thrown as itself, several together as
 * an AggregateError; siblings that ended because of the abort are not counted, nor are
 * children that ended with CancelledError (cancelled from outside, as asyncio's).
 *
 *   const [a, b] = await TaskGroup.run(async (tg) => {
 *     const a = tg.spawn((signal) => fetch(urlA, { signal }));
 *     const b = tg.spawn((signal) => fetch(urlB, { signal }));
 *     return [await a, await b];
 *   });
 */
export class TaskGroup implements AsyncDisposable {
  readonly #controller = new AbortController();
  readonly #children = new Set<Promise<unknown>>();
  readonly #errors = new Set<unknown>(); // in the order they came; a Set, as one failure counts once
  #closed = false;

  /** Runs `body` with a new group and waits for all it spawned; returns what `body` returns. */
  static async run<R>(body: (group: TaskGroup) => R | Promise<R>): Promise<R> {
    const group = new TaskGroup();
    let result: R;
    try {
      result = await body(group);
    } catch (err) {
      group.#fail(err);
      await group.#wait().catch(() => {});
      throw group.#thrown();
    }
    await group.#wait();
    return result;
  }

  /** Aborted when a child fails (or the group is aborted). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Starts a child; it receives the group's signal. Its own promise rejects with its error. */
  spawn<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>): Promise<Awaited<T>> {
    if (typeof fn !== 'function') throw new TypeError(`spawn expects a function, got ${describe(fn)}`);
    if (this.#closed) throw new Error('cannot spawn into a TaskGroup that has finished');
    if (this.signal.aborted) throw new Error('cannot spawn into a TaskGroup that is shutting down after a failure');
    const child = this.#runChild(fn) as Promise<Awaited<T>>;
    const tracked = child.then(
      () => undefined,
      (err: unknown) => {
        // A child that stopped because the group was aborted is not a failure of its own,
        // nor is one that was cancelled (it ended with CancelledError: it awaited a Future
        // cancelled from outside, or threw one), as asyncio's TaskGroup ignores a child
        // cancelled from outside.
        if (err instanceof CancelledError) return;
        if (!(this.signal.aborted && err === this.signal.reason)) this.#fail(err);
      },
    );
    this.#children.add(tracked);
    void tracked.finally(() => this.#children.delete(tracked));
    return child;
  }

  /** Aborts every child with `reason` (they should stop); the group still waits for them. */
  abort(reason?: unknown): void {
    this.#controller.abort(reason);
  }

  /**
   * Runs a child: named uniquely, so that wait() can tell a call from inside one (see
   * isWithin). Its sync throw becomes its rejection.
   */
  readonly #runChild = async (fn: (signal: AbortSignal) => unknown): Promise<unknown> => await fn(this.signal);

  /**
   * Waits for every child, then throws the failures if there were any. A child that
   * waits for its own group would wait for itself: it gets an Error saying so instead
   * (which fails it, and so the group), as asyncio refuses a task that awaits itself.
   */
  async wait(): Promise<void> {
    // Even with no child left to wait for: the caller is one, only not counted yet in its synchronous start.
    if (isWithin(this.#runChild)) {
      throw new Error('a child of a TaskGroup waited for its own group, which waits for that child: it would never end; wait for the group from outside its children');
    }
    await this.#wait();
  }

  /** wait() without the check: TaskGroup.run's body is no child. */
  async #wait(): Promise<void> {
    while (this.#children.size > 0) await Promise.all([...this.#children]);
    this.#closed = true;
    if (this.#errors.size > 0) throw this.#thrown();
  }

  /** `await using group = new TaskGroup()`: leaving the block waits for the children. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.wait();
  }

  /** What the group throws: its one failure as itself, several as an AggregateError. */
  #thrown(): unknown {
    const errors = [...this.#errors];
    return errors.length === 1 ? errors[0] : new AggregateError(errors, `${errors.length} tasks failed`);
  }

  #fail(err: unknown): void {
    // One failure counts once: a body (or a child) that awaits a failed child rethrows
    // that child's very error, as asyncio's parent task would be cancelled instead.
    if (this.#errors.has(err)) return;
    this.#errors.add(err);
    if (!this.signal.aborted) this.#controller.abort(err);
  }
}
