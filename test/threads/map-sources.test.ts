import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ThreadPoolExecutor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

async function* naturalsAsync(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

// The consumer used to be woken by each submission, find nothing completed yet, and
// take that for the end of the input: an unordered map over an async source yielded nothing.
it('map over an async source with ordered: false yields every result', { timeout: 60_000 }, async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 2 });
  for (const buffersize of [1, 3, 1024]) {
    const got: number[] = [];
    for await (const v of pool.map(tasks.inc, naturalsAsync(20), { ordered: false, buffersize })) got.push(v);
    assert.deepEqual(got.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), `buffersize ${buffersize}`);
  }
});
