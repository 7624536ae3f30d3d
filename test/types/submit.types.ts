/**
 * Type tests, checked by `npm run typecheck` (part of `npm test`): each
 * `@ts-expect-error` line must fail to compile, or the check itself fails.
 */
import { AsyncExecutor, defineTasks, Future, ThreadPoolExecutor, wait, type Executor } from '../../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T>(_value: T): void {}
function assertEqual<A, B>(_proof: Equal<A, B>): void {}

const tasks = defineTasks(import.meta.url, {
  fib(n: number): number {
    return n;
  },
  async fetchLength(url: string): Promise<number> {
    return url.length;
  },
  join(parts: string[], sep = ','): string {
    return parts.join(sep);
  },
});

export async function typeTests(pool: ThreadPoolExecutor, ex: Executor, aex: AsyncExecutor): Promise<void> {
  const f = pool.submit(tasks.fib, 30);
  assertEqual<typeof f, Future<number>>(true);
  assertEqual<Awaited<typeof f>, number>(true);

  // an async task's Future holds the awaited value
  const g = ex.submit(tasks.fetchLength, 'https://example.com');
  assertEqual<typeof g, Future<number>>(true);

  // optional parameters stay optional
  expectType<Future<string>>(aex.submit(tasks.join, ['a', 'b']));
  expectType<Future<string>>(aex.submit(tasks.join, ['a', 'b'], ';'));

  // @ts-expect-error a string where fib takes a number
  pool.submit(tasks.fib, '30');
  // @ts-expect-error a missing argument
  pool.submit(tasks.fib);
  // @ts-expect-error one argument too many
  pool.submit(tasks.fib, 1, 2);
  // @ts-expect-error the result is a number, not a string
  const wrong: Future<string> = pool.submit(tasks.fib, 1);
  void wrong;

  // per-task options keep the same argument checking
  expectType<Future<number>>(pool.submitWith({ timeout: 100, retries: 2 }, tasks.fib, 3));
  // @ts-expect-error a wrong argument type with options too
  pool.submitWith({ timeout: 100 }, tasks.fib, 'x');

  // map infers its item and result types
  for await (const n of pool.map(tasks.fib, [1, 2, 3])) expectType<number>(n);
  // @ts-expect-error map over strings for a task that takes numbers
  pool.map(tasks.fib, ['a']);
  for await (const s of pool.starmap(tasks.join, [[['a'], '-']] as [string[], string][])) expectType<string>(s);

  // inline functions are typed the same way
  expectType<Future<number>>(pool.submit((a: number, b: number) => a + b, 1, 2));

  // wait takes Futures of mixed result types
  const r = await wait([f, pool.submit(tasks.join, ['x'])]);
  expectType<Set<Future<number> | Future<string>>>(r.done);
}
