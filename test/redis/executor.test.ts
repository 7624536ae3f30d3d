import { describe } from 'node:test';
import { tasks } from '../fixtures/tasks.js';
import { executorSuite } from '../futures/executor-suite.js';
import { socketBlocker } from '../processes/socket-blocker.js';
import { RedisExecutor, RedisWorker } from '../../src/redis/index.js';
import type { ShutdownOptions } from '../../src/futures/executor.js';
import { FIXTURE_TASKS, KEY, obliterate, REDIS_URL, skipReason, uniqueQueue } from './helpers.js';

/** A RedisExecutor with its own queue and a worker (a thread pool here) serving it; shutdown removes both. */
class SuiteExecutor extends RedisExecutor {
  readonly #queueName: string;
  readonly #worker: Promise<RedisWorker>;
  constructor(workers: number) {
    const queue = uniqueQueue('suite');
    super({ connection: REDIS_URL, queue, key: KEY, pollInterval: 500 });
    this.#queueName = queue;
    this.#worker = RedisWorker.start({ connection: REDIS_URL, queue, key: KEY, tasks: [FIXTURE_TASKS], pool: 'thread', workers, allowInline: true });
  }
  protected override async doShutdown(options: Required<ShutdownOptions>): Promise<void> {
    await super.doShutdown(options);
    await (await this.#worker).close();
    await obliterate(this.#queueName);
  }
}

if (skipReason === undefined) {
  executorSuite({
    name: 'RedisExecutor',
    make: (workers) => new SuiteExecutor(workers),
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
