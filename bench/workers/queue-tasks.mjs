import { defineTasks } from '../../dist/index.js';

export const queueBench = defineTasks(import.meta.url, {
  /** Says it is here, waits for the start, then takes n items. */
  drainWhenGo(q, n, ready, go) {
    ready.set();
    go.waitSync();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += q.getSync();
    return sum;
  },
  /** Says it is here, waits for the start, then puts 0..n-1. */
  fillWhenGo(q, n, ready, go) {
    ready.set();
    go.waitSync();
    for (let i = 0; i < n; i++) q.putSync(i);
  },
  /** Puts 0..n-1. */
  fill(q, n) {
    for (let i = 0; i < n; i++) q.putSync(i);
  },
  /** Takes n lock pairs on a lock of another process and reports pairs/s through `out`. */
  lockPairsReport(lock, n, out) {
    lock.acquireSync();
    lock.release();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      lock.release();
    }
    out.putSync(n / ((performance.now() - t0) / 1000));
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
