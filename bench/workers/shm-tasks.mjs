// What bench/shm.mjs's child processes run, on primitives the parent made.
import { defineTasks } from '../../dist/index.js';

export const shmBench = defineTasks(import.meta.url, {
  /** Locked increments of `v`, from `go` on; tells `done` when finished. */
  count(lock, v, go, done, n) {
    go.waitSync();
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      v.value += 1;
      lock.release();
    }
    done.release();
  },
  /** Uncontended acquire+release pairs/s on the parent's Lock, measured here. */
  pairs(lock, n, out) {
    for (let i = 0; i < 1000; i++) {
      lock.acquireSync();
      lock.release();
    }
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      lock.release();
    }
    out.value = n / ((performance.now() - t0) / 1000);
  },
  /** putSync of 0..n-1 from `go` on. */
  produce(q, go, n) {
    go.waitSync();
    for (let i = 0; i < n; i++) q.putSync(i);
  },
});
