/**
 * Type tests of concur/redis, checked by `npm run typecheck`: each `@ts-expect-error`
 * line must fail to compile, or the check itself fails.
 */
import { defineTasks, type Executor, type Future } from '../../src/index.js';
import { RedisExecutor, RedisWorker, type RedisFuture } from '../../src/redis/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertEqual<A, B>(_proof: Equal<A, B>): void {}

const tasks = defineTasks(import.meta.url, {
  fib(n: number): number {
    return n;
  },
  async fetchLength(url: string): Promise<number> {
    return url.length;
  },
});

export async function redisTypeTests(ex: RedisExecutor): Promise<void> {
  const f = ex.submit(tasks.fib, 30);
  assertEqual<typeof f, RedisFuture<number>>(true);
  const id: string = f.jobId;
  void id;
  const g = ex.submitWith({ priority: 3, timeout: 1000, retries: 2 }, tasks.fetchLength, 'x');
  assertEqual<typeof g, RedisFuture<number>>(true);
  const asFuture: Future<number> = g; // a RedisFuture is a Future
  void asFuture;
  const asExecutor: Executor = ex; // and a RedisExecutor an Executor
  void asExecutor;
  // @ts-expect-error the argument types carry through
  ex.submit(tasks.fib, 'thirty');
  // @ts-expect-error priority is a number
  ex.submitWith({ priority: 'high' }, tasks.fib, 1);
  // @ts-expect-error pool is one of three kinds
  await RedisWorker.start({ queue: 'q', tasks: ['./t.js'], pool: 'cluster' });
  // @ts-expect-error the queue is required
  new RedisExecutor({});
}
