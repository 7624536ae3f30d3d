import { defineTasks } from '../../dist/index.js';

export const managerBench = defineTasks(import.meta.url, {
  /** Says it is here, waits for the start, then does n set+get pairs; its own seconds go into `out`. */
  pairs(d, n, ready, start, out) {
    ready.set();
    start.waitSync();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      d.set('k', i);
      d.get('k');
    }
    out.putSync((performance.now() - t0) / 1000);
  },
  /** The median and p99 latency of one get, in us, into `out`. */
  latency(d, n, out) {
    d.set('k', 1);
    const samples = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      d.get('k');
      samples[i] = (performance.now() - t0) * 1000;
    }
    samples.sort();
    out.putSync([samples[n >> 1], samples[Math.floor(n * 0.99)]]);
  },
  /** n acquire+release pairs of `lock` (another process's Lock, through its proxy); the pairs/s into `out`. */
  lockPairs(lock, n, out) {
    for (let i = 0; i < 100; i++) {
      lock.acquireSync();
      lock.release();
    }
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      lock.release();
    }
    out.send(n / ((performance.now() - t0) / 1000));
  },
});
