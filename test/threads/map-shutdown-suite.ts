// Item 11 of issue 10: map() must not go on submitting after shutdown(). Run against
// each pool by test/threads/map-shutdown.test.ts and test/processes/map-shutdown.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProcessPoolExecutor, ThreadPoolExecutor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

function* naturals(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

async function* naturalsAsync(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** The error `submit` throws once the pool is shut down. */
function submitError(pool: ThreadPoolExecutor | ProcessPoolExecutor): Error {
  try {
    void pool.submit(tasks.inc, 0);
  } catch (err) {
    return err as Error;
  }
  throw new Error('submit after shutdown did not throw');
}

/** Drains `it`, returning what it yielded and what it threw. */
async function drain(it: AsyncIterable<number>): Promise<{ got: number[]; error: unknown }> {
  const got: number[] = [];
  try {
    for await (const v of it) got.push(v);
  } catch (error) {
    return { got, error };
  }
  return { got, error: undefined };
}

/** The map-after-shutdown suite for one pool class. */
export function mapShutdownSuite(name: string, make: () => ThreadPoolExecutor | ProcessPoolExecutor): void {
  describe(`${name}: map after shutdown`, () => {
    for (const [label, source, ordered] of [
      ['a sync source, ordered', () => naturals(100), true],
      ['an async source, unordered', () => naturalsAsync(100), false],
    ] as const) {
      it(`${label}: nothing starts after shutdown; the results already submitted come, then the error submit raises`, { timeout: 90_000 }, async () => {
        const pool = make();
        let shutDown = false;
        let startedAfter = 0;
        pool.on('workerReady', () => {
          if (shutDown) startedAfter++;
        });
        const results = pool.map(tasks.inc, source(), { buffersize: 4, ordered });
        const first = await results.next();
        assert.equal(first.done, false);
        await pool.shutdown();
        shutDown = true;
        const expected = submitError(pool);
        const { got, error } = await drain(results);
        assert.ok(got.length <= 4, `at most the 4 chunks already submitted come after shutdown, got ${got.length}`);
        assert.ok(error instanceof Error, `the iteration raises once the submitted results are consumed (got ${String(error)})`);
        assert.equal(error.message, expected.message);
        assert.deepEqual([first.value, ...got].sort((a, b) => a - b), [1, 2, 3, 4, 5].slice(0, got.length + 1));
        assert.equal(startedAfter, 0, 'no worker started after shutdown resolved');
        assert.equal(pool.stats().workers, 0);
        await pool.shutdown(); // a second shutdown has nothing left to wait for
        assert.equal(pool.stats().workers, 0);
      });
    }

    it('a map started before shutdown and not yet iterated submits nothing more once shut down', { timeout: 90_000 }, async () => {
      const pool = make();
      const results = pool.map(tasks.inc, naturals(10), { buffersize: 2 });
      const closing = pool.shutdown();
      const { got, error } = await drain(results);
      await closing;
      assert.deepEqual(got, [1, 2]);
      assert.equal((error as Error).message, submitError(pool).message);
      assert.equal(pool.stats().workers, 0);
    });
  });
}
