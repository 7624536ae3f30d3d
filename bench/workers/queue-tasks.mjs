import { defineTasks } from '../../dist/index.js';

export const queueBench = defineTasks(import.meta.url, {
  /** Takes n items off the queue, blocking between them. */
  drain(q, n) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += q.getSync();
    return sum;
  },
  /** Takes n uncontended lock pairs. */
  lockPairs(lock, n) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      lock.release();
    }
    return performance.now() - t0;
  },
});
