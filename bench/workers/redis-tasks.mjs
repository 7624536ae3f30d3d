// The task of bench/redis.mjs, served by `concur worker`.
import { defineTasks } from '../../dist/index.js';

export const redisBench = defineTasks(import.meta.url, {
  inc(x) {
    return x + 1;
  },
});

// Failover (bench/redis.mjs failover): a job that naps, then says which process ran it.
export const redisNap = defineTasks(import.meta.url, {
  async nap(ms) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return process.pid;
  },
});
