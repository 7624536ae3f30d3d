// The task of bench/redis.mjs, served by `concur worker`.
import { defineTasks } from '../../dist/index.js';

export const redisBench = defineTasks(import.meta.url, {
  inc(x) {
    return x + 1;
  },
});
