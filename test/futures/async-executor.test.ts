import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsyncExecutor, Full, taskSignal, TimeoutError } from '../../src/index.js';
import { executorSuite, type Blocker } from './executor-suite.js';

function blocker(): Blocker {
  let release!: () => void;
  let markStarted!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const started = new Promise<void>((r) => (markStarted = r));
  return {
    fn: async () => {
      markStarted();
      await gate;
      return 'released';
    },
    args: [],
    started,
    release,
  };
}

executorSuite({
  name: 'AsyncExecutor',
  make: (workers) => new AsyncExecutor({ maxConcurrency: workers }),
  hang: () => new Promise(() => {}),
  blocker,
  badOptions: [
    [() => new AsyncExecutor({ maxConcurrency: 0 }), /maxConcurrency must be an integer >= 1, got 0 \(number\)/],
    [() => new AsyncExecutor({ maxConcurrency: 1.5 }), /maxConcurrency must be an integer/],
    [() => new AsyncExecutor({ maxWorkers: 2 } as never), /unknown option "maxWorkers"/],
  ],
});

describe('AsyncExecutor', () => {
  it('never runs more than maxConcurrency at once', async () => {
    await using ex = new AsyncExecutor({ maxConcurrency: 3 });
    let now = 0;
    let peak = 0;
    const job = async (): Promise<void> => {
      now++;
      peak = Math.max(peak, now);
      await new Promise((r) => setImmediate(r));
      now--;
    };
    await Promise.all(Array.from({ length: 20 }, () => ex.submit(job)));
    assert.equal(peak, 3);
  });

  it('gives a task with a timeout a signal that aborts when the time is up', async () => {
    await using ex = new AsyncExecutor({ maxConcurrency: 1 });
    let seen: AbortSignal | undefined;
    const f = ex.submitWith({ timeout: 10 }, async () => {
      seen = taskSignal();
      await new Promise((resolve) => seen!.addEventListener('abort', resolve));
      return 'saw abort';
    });
    await assert.rejects(f.result(), TimeoutError);
    assert.equal(seen?.aborted, true);
    assert.ok(seen?.reason instanceof TimeoutError);
  });

  it('maxQueue bounds the waiting tasks: past it submit returns a Future failed with Full', async () => {
    await using ex = new AsyncExecutor({ maxConcurrency: 1, maxQueue: 1 });
    const b = blocker();
    const running = ex.submit(b.fn);
    const waiting = ex.submit(async () => 1);
    const refused = ex.submit(async () => 2);
    assert.ok((await refused.exception()) instanceof Full);
    b.release();
    assert.equal(await running, 'released');
    assert.equal(await waiting, 1);
  });
});
