import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import fc from 'fast-check';
import { ThreadPoolExecutor, wait } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

const pool = new ThreadPoolExecutor({ maxWorkers: 2 });
after(() => pool.shutdown());

it('thread pool map matches the model for any input, chunk size, buffer and order', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer(), { maxLength: 300 }),
      fc.integer({ min: 1, max: 50 }),
      fc.option(fc.integer({ min: 1, max: 16 }), { nil: undefined }),
      fc.boolean(),
      async (input, chunksize, buffersize, ordered) => {
        const out: number[] = [];
        for await (const y of pool.map(tasks.inc, input, { chunksize, buffersize, ordered })) out.push(y);
        const model = input.map((x) => x + 1);
        if (ordered) assert.deepEqual(out, model);
        else assert.deepEqual(out.sort((a, b) => a - b), model.sort((a, b) => a - b));
      },
    ),
    { numRuns: 40 },
  );
});

it('stress: interleaved submits, cancels and failures settle every Future exactly as the model says', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ x: fc.integer({ min: 0, max: 9 }), cancel: fc.boolean() }), { minLength: 1, maxLength: 400 }),
      async (ops) => {
        const fs = ops.map(({ x, cancel }) => {
          const f = pool.submit(tasks.failIf, x, 7);
          const cancelled = cancel && f.cancel();
          return { f, x, cancelled };
        });
        const { notDone } = await wait(fs.map((e) => e.f));
        assert.equal(notDone.size, 0);
        for (const { f, x, cancelled } of fs) {
          if (cancelled) assert.equal(f.state, 'CANCELLED');
          else if (x === 7) assert.match(String(await f.exception()), /bad item 7/);
          else assert.equal(await f, x * 10);
        }
      },
    ),
    { numRuns: 30 },
  );
});
