import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { STOPPED_BY, type StoppableTaskOptions, type TaskStop } from '../../src/coroutines/async-executor.js';
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

  it('maxQueue counts no cancelled task: cancelling the waiting tasks makes room', async () => {
    await using ex = new AsyncExecutor({ maxConcurrency: 1, maxQueue: 2 });
    const b = blocker();
    const running = ex.submit(b.fn);
    for (const f of [ex.submit(async () => 1), ex.submit(async () => 2)]) f.cancel();
    const next = [ex.submit(async () => 3), ex.submit(async () => 4)];
    assert.equal(ex.queued, 2);
    assert.ok((await ex.submit(async () => 5).exception()) instanceof Full, 'full again with two live tasks');
    b.release();
    assert.equal(await running, 'released');
    assert.deepEqual(await Promise.all(next), [3, 4]);
  });
});

describe('AsyncExecutor: tasks cancelled while they wait', () => {
  it('stop listening to their AbortSignal at once', async () => {
    await using ex = new AsyncExecutor({ maxConcurrency: 1 });
    const b = blocker();
    const running = ex.submit(b.fn);
    const ac = new AbortController();
    const waiting = Array.from({ length: 50 }, (_, i) => ex.submitWith({ signal: ac.signal }, async () => i));
    for (const f of waiting) f.cancel();
    const listeners = getEventListeners(ac.signal, 'abort').length;
    b.release();
    assert.equal(await running, 'released');
    assert.equal(listeners, 0);
  });
});

describe('AsyncExecutor: one signal aborting a long queue', () => {
  // Each aborted task left the queue through Deque.removeFirst, which rebuilt everything
  // behind it: 30k tasks under one signal took about 10 s of one unbroken turn of the
  // event loop, and 40k over half a minute (a map with a signal goes the same way).
  it('ends 30k waiting tasks (and a map of 30k items) in linear time', { timeout: 120_000 }, async () => {
    const n = 30_000;
    const ex = new AsyncExecutor({ maxConcurrency: 1 });
    const ac = new AbortController();
    const stop = new Error('stop');
    const fs = Array.from({ length: n }, () => ex.submitWith({ signal: ac.signal }, () => new Promise(() => {})));
    const ac2 = new AbortController();
    const stop2 = new Error('stop2');
    const ex2 = new AsyncExecutor({ maxConcurrency: 1 });
    const it = ex2.map(() => new Promise(() => {}), Array.from({ length: n }, (_, i) => i), { signal: ac2.signal });
    const first = it.next();
    const t0 = performance.now();
    ac.abort(stop);
    ac2.abort(stop2);
    const ms = performance.now() - t0;
    assert.equal(ex.queued, 0);
    assert.ok(fs.every((f) => f.exceptionSync() === stop));
    await assert.rejects(first, (e) => e === stop2);
    assert.equal(ex2.queued, 0);
    assert.ok(ms < 6_000, `aborting 2 x ${n} waiting tasks took ${Math.round(ms)} ms`);
  });
});

describe('AsyncExecutor: map after shutdown', () => {
  it('a lazy map starts nothing after shutdown: the results already submitted come, then the error submit raises', async () => {
    const executor = new AsyncExecutor({ maxConcurrency: 2 });
    let calls = 0;
    let shutDown = false;
    let callsAfter = 0;
    const work = async (x: number): Promise<number> => {
      calls++;
      if (shutDown) callsAfter++;
      return x + 1;
    };
    function* naturals(): Generator<number> {
      for (let i = 0; i < 100; i++) yield i;
    }
    const results = executor.map(work, naturals(), { buffersize: 4 });
    assert.equal((await results.next()).value, 1);
    await executor.shutdown();
    shutDown = true;
    const got: number[] = [];
    let error: unknown;
    try {
      for await (const v of results) got.push(v);
    } catch (err) {
      error = err;
    }
    assert.equal(callsAfter, 0, 'no call started after shutdown');
    assert.ok(got.length <= 4, `at most the submitted ones come, got ${got.length}`);
    assert.ok(calls < 100);
    assert.ok(error instanceof Error && /cannot schedule new futures after shutdown \(AsyncExecutor\)/.test(error.message), String(error));
  });
});

describe('AsyncExecutor: a running task ended early is abandoned', () => {
  it('abandons a task that heeds no timeout or abort: its slot runs the next task, shutdown does not wait for it, and its late result goes nowhere', async () => {
    const ex = new AsyncExecutor({ maxConcurrency: 1 });
    let finish!: (v: string) => void;
    const late = new Promise<string>((r) => (finish = r));
    const timedOut = ex.submitWith({ timeout: 10 }, () => late);
    await assert.rejects(timedOut.result(), TimeoutError);
    assert.equal(ex.abandoned, 1);
    assert.equal(ex.running, 0);
    const ac = new AbortController();
    const aborted = ex.submitWith({ signal: ac.signal }, () => new Promise(() => {}));
    ac.abort(new Error('stop'));
    await assert.rejects(aborted.result(), /stop/);
    assert.equal(ex.abandoned, 2);
    assert.equal(await ex.submit(async () => 'next'), 'next');
    await ex.shutdown({ wait: true });
    finish('too late');
    await late;
    await new Promise((r) => setImmediate(r));
    assert.equal(ex.abandoned, 1, 'the one that settled is no longer counted');
    assert.ok((await timedOut.exception()) instanceof TimeoutError);
  });

  it('a TaskStop (STOPPED_BY) ends a task like an aborted signal, without a taskSignal()', async () => {
    const stop = (): TaskStop & { abort(reason: unknown): void } => {
      const fns: Array<() => void> = [];
      const s = {
        aborted: false,
        reason: undefined as unknown,
        onAbort: (fn: () => void) => (s.aborted ? fn() : void fns.push(fn)),
        abort(reason: unknown) {
          s.aborted = true;
          s.reason = reason;
          for (const fn of fns) fn();
        },
      };
      return s;
    };
    await using ex = new AsyncExecutor({ maxConcurrency: 1 });
    const running = stop();
    let seen: AbortSignal | undefined | null = null;
    const f = ex.submitWith({ [STOPPED_BY]: running } as StoppableTaskOptions, () => {
      seen = taskSignal();
      return new Promise(() => {});
    });
    const queued = stop();
    let ran = false;
    const q = ex.submitWith({ [STOPPED_BY]: queued } as StoppableTaskOptions, () => void (ran = true));
    queued.abort(new Error('queued stop'));
    await assert.rejects(q.result(), /queued stop/);
    running.abort(new Error('running stop'));
    await assert.rejects(f.result(), /running stop/);
    assert.equal(seen, undefined);
    assert.equal(ex.abandoned, 1);
    assert.equal(await ex.submit(async () => 'next'), 'next');
    assert.equal(ran, false);
    await assert.rejects(ex.submitWith({ [STOPPED_BY]: running } as StoppableTaskOptions, async () => 1).result(), /running stop/);
  });
});

describe('AsyncExecutor: synchronous tasks do not starve the event loop', () => {
  it('a queue of synchronous tasks lets an immediate run between them, and they still run in order', async () => {
    const ex = new AsyncExecutor({ maxConcurrency: 1 });
    const order: number[] = [];
    const busy = (i: number): number => {
      order.push(i);
      const end = performance.now() + 5;
      while (performance.now() < end);
      return i;
    };
    // Each task starts from the settlement of the one before: without a pause, all 20 run
    // (100 ms) in one chain of microtasks, before any immediate, timer or signal handler.
    let ranBeforeImmediate = -1;
    const immediate = new Promise<void>((resolve) => setImmediate(() => resolve(void (ranBeforeImmediate = order.length))));
    const futures = Array.from({ length: 20 }, (_, i) => ex.submit(busy, i));
    assert.equal(ex.running, 1, 'the first starts at once');
    await immediate;
    assert.ok(ranBeforeImmediate < 20, `${ranBeforeImmediate} of 20 ran before the immediate`);
    assert.deepEqual(await Promise.all(futures.map((f) => f.result())), order);
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
    await ex.shutdown();
  });
});
