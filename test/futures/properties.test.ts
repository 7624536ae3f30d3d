import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AsyncExecutor, Future, InvalidStateError } from '../../src/index.js';

describe('properties', () => {
  it('Future follows the CPython state machine under any sequence of calls', async () => {
    type Op = 'cancel' | 'run' | 'result' | 'exception';
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom<Op>('cancel', 'run', 'result', 'exception'), { maxLength: 8 }), async (ops) => {
        const f = new Future<number>();
        let state: 'PENDING' | 'RUNNING' | 'CANCELLED' | 'NOTIFIED' | 'FINISHED' = 'PENDING';
        let callbacks = 0;
        f.addDoneCallback(() => callbacks++);
        for (const op of ops) {
          if (op === 'cancel') {
            const expected: boolean = state === 'PENDING' || state === 'CANCELLED' || state === 'NOTIFIED';
            assert.equal(f.cancel(), expected);
            if (state === 'PENDING') state = 'CANCELLED';
          } else if (op === 'run') {
            if (state === 'PENDING') {
              assert.equal(f.setRunningOrNotifyCancel(), true);
              state = 'RUNNING';
            } else if (state === 'CANCELLED') {
              assert.equal(f.setRunningOrNotifyCancel(), false);
              state = 'NOTIFIED';
            } else assert.throws(() => f.setRunningOrNotifyCancel(), InvalidStateError);
          } else {
            const settle = (): void => (op === 'result' ? f.setResult(1) : f.setException(new Error('e')));
            if (state === 'PENDING' || state === 'RUNNING') {
              settle();
              state = 'FINISHED';
            } else assert.throws(settle, InvalidStateError);
          }
          const shown: string = state === 'NOTIFIED' ? 'CANCELLED' : state;
          assert.equal(f.state, shown);
          assert.equal(f.done(), shown === 'CANCELLED' || shown === 'FINISHED');
          assert.equal(callbacks, f.done() ? 1 : 0, 'callbacks run exactly once, when done');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('map returns exactly the model: same order, error at its position, for any chunk and buffer size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 10 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        fc.integer({ min: 1, max: 4 }),
        fc.option(fc.integer({ min: 0, max: 59 }), { nil: undefined }),
        fc.boolean(),
        async (input, chunksize, buffersize, maxConcurrency, failAt, async) => {
          await using ex = new AsyncExecutor({ maxConcurrency });
          const bad = failAt !== undefined && failAt < input.length ? input[failAt] : undefined;
          const fn = (x: number): number | Promise<number> => {
            if (x === bad) throw new Error(`bad ${x}`);
            return async ? Promise.resolve(x * 2) : x * 2;
          };
          const out: number[] = [];
          let error: unknown;
          try {
            for await (const y of ex.map(fn, input, { chunksize, buffersize })) out.push(y);
          } catch (e) {
            error = e;
          }
          const firstBad = bad === undefined ? -1 : input.indexOf(bad);
          if (firstBad < 0) {
            assert.equal(error, undefined);
            assert.deepEqual(out, input.map((x) => x * 2));
          } else {
            assert.match(String(error), new RegExp(`bad ${bad}`));
            // results stop at the start of the chunk holding the failure
            const stop = Math.floor(firstBad / chunksize) * chunksize;
            assert.deepEqual(out, input.slice(0, stop).map((x) => x * 2));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
