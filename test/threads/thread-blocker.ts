// A task that holds a thread pool's worker until released: the executor suite's Blocker for threads.
import { tasks } from '../fixtures/tasks.js';
import type { Blocker } from '../futures/executor-suite.js';

/** A blockUntil task with its flag: `started` once it runs, `release()` lets it return. */
export function threadBlocker(): Blocker {
  const flag = new Int32Array(new SharedArrayBuffer(8));
  const started = Atomics.waitAsync(flag, 1, 0);
  return {
    fn: tasks.blockUntil,
    args: [flag],
    started: (started.async ? started.value : Promise.resolve()).then(() => {}),
    release: () => {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    },
  };
}
