// What bench/shm.mjs's child processes run, on primitives the parent made.
import { defineTasks } from '../../dist/index.js';

export const shmBench = defineTasks(import.meta.url, {
  /** Locked increments of `v`: says `ready`, starts on `go`, tells `done` when finished. */
  count(lock, v, ready, go, done, n) {
    ready.release();
    go.waitSync();
    for (let i = 0; i < n; i++) {
      lock.acquireSync();
      v.value += 1;
      lock.release();
    }
    done.release();
  },
});
