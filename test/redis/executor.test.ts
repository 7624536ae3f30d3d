import { after, describe } from 'node:test';
import { tasks } from '../fixtures/tasks.js';
import { executorSuite } from '../futures/executor-suite.js';
import { socketBlocker } from '../processes/socket-blocker.js';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import { FIXTURE_TASKS, KEY, obliterate, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

// One queue and one worker (a thread pool) per worker count, shared by the tests: a
// worker's threads stay warm, so each test does not pay for starting threads that load
// TypeScript. Every test leaves its worker idle (its executor's shutdown waits for its
// jobs, and cancels or aborts the ones it gives up).
const served = new Map<number, { queue: string; worker: Promise<RedisWorker> }>();

function servedQueue(workers: number): string {
  let s = served.get(workers);
  if (s === undefined) {
    const queue = uniqueQueue(`suite${workers}`);
    s = { queue, worker: RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [FIXTURE_TASKS], pool: 'thread', workers, allowInline: true }) };
    served.set(workers, s);
  }
  return s.queue;
}

after(async () => {
  for (const { queue, worker } of served.values()) {
    await (await worker).close();
    await obliterate(queue);
  }
});

if (skipReason === undefined) {
  executorSuite({
    name: 'RedisExecutor',
    make: (workers) => new RedisExecutor({ connection: REDIS_URL, queue: servedQueue(workers), key: KEY, pollInterval: 500 }),
    hang: tasks.spin,
    blocker: socketBlocker,
    badOptions: [
      [() => new RedisExecutor({ queue: '', key: KEY }), /queue must be a non-empty name without ':', got "" \(string\)/],
      [() => new RedisExecutor({ queue: 'a:b', key: KEY }), /queue must be a non-empty name without ':'/],
      [() => new RedisExecutor({ queue: 'q', key: 'short' }), /signing key from the key option must be at least 16 bytes, got 5/],
      [() => new RedisExecutor({ queue: 'q', key: KEY, connection: 'http://x' }), /connection must be a redis:\/\/ or rediss:\/\/ URL/],
      [() => new RedisExecutor({ queue: 'q', key: KEY, bogus: 1 } as never), /unknown option "bogus"/],
    ],
  });
} else {
  describe('RedisExecutor: the Executor contract', { skip: skipReason }, () => {});
}
