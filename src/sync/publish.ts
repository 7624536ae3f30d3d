/**
 * Order between two ways a process's writes reach another process. A put into a queue
 * served by another process may be sent ahead (proxy outbox) and land later; a change
 * to a primitive in shared memory is seen at once. So `await q.put(x); done.set()` must
 * not let the other side see `done` before `x` has landed (nor lose `x` if this process
 * is then killed): a primitive in shared memory first settles what this thread sent
 * ahead. The proxy client registers how; without proxies `pending` stays false and this
 * costs one load.
 */

/** What this thread sent ahead to other processes, as the proxy client reports it. */
export const sentAhead = {
  /** True when something may still be on its way. */
  pending: false,
  /** Waits until it has landed (never throws: its failures are reported by the calls they belong to). */
  settle: (): void => {},
};

/** Called before a change to a shared primitive that other processes may act on. */
export function beforePublish(): void {
  if (sentAhead.pending) {
    sentAhead.pending = false;
    sentAhead.settle();
  }
}
