import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asCompleted, AsyncExecutor, Empty, Future, Pipe, Queue, sleep, Thread, ThreadPoolExecutor, timeout, wait } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';

// Node fires a timer longer than 2^31-1 ms after about 1 ms. Each API below is given a
// timeout far past that and must still be waiting when the event it waits for comes
// 100 ms later: a clamped timer would have ended the wait long before.
const HUGE = 3e9;
const LATER_MS = 100;

/** Runs fn after LATER_MS. */
function later(fn: () => void): void {
  setTimeout(fn, LATER_MS);
}

describe('timeouts longer than 2^31-1 ms', () => {
  it('future.result(3e9) waits for the result', { timeout: 30_000 }, async () => {
    const f = new Future<string>();
    f.setRunningOrNotifyCancel();
    later(() => f.setResult('late'));
    assert.equal(await f.result(HUGE), 'late');
  });

  it('future.exception(3e9) waits for the outcome', { timeout: 30_000 }, async () => {
    const f = new Future<string>();
    f.setRunningOrNotifyCancel();
    later(() => f.setException(new RangeError('late failure')));
    assert.match(String(await f.exception(HUGE)), /late failure/);
  });

  it('wait(fs, { timeout: 3e9 }) waits for the future', { timeout: 30_000 }, async () => {
    const f = new Future<number>();
    later(() => f.cancel());
    const { done, notDone } = await wait([f], { timeout: HUGE });
    assert.equal(done.size, 1);
    assert.equal(notDone.size, 0);
  });

  it('asCompleted(fs, { timeout: 3e9 }) yields the future, without re-arming a clamped timer every millisecond', { timeout: 30_000 }, async () => {
    const overflows: string[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'TimeoutOverflowWarning') overflows.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      const f = new Future<number>();
      later(() => f.cancel());
      const seen: Future<number>[] = [];
      for await (const g of asCompleted([f], { timeout: HUGE })) seen.push(g as unknown as Future<number>);
      assert.deepEqual(seen, [f]);
      // Warnings are emitted on a later tick.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(overflows, []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('pipe.poll(3e9) waits for data', { timeout: 30_000 }, async () => {
    const [a, b] = Pipe();
    later(() => a.send('x'));
    assert.equal(await b.poll(HUGE), true);
    assert.equal(await b.recv(), 'x');
    a.close();
    b.close();
  });

  it('pipe.poll(Infinity) waits for data as poll(null) does', { timeout: 30_000 }, async () => {
    const [a, b] = Pipe();
    later(() => a.send('y'));
    assert.equal(await b.poll(Infinity), true);
    a.close();
    b.close();
  });

  it('sleep(3e9) is still pending after 100 ms and can be cancelled', { timeout: 30_000 }, async () => {
    const controller = new AbortController();
    let state = 'pending';
    const slept = sleep(HUGE, { signal: controller.signal }).then(
      () => (state = 'resolved'),
      (err: unknown) => {
        state = 'rejected';
        throw err;
      },
    );
    later(() => controller.abort(new Error('stop sleeping')));
    await assert.rejects(slept, /stop sleeping/);
    assert.equal(state, 'rejected');
  });

  it('timeout(3e9, work) lets work finish', { timeout: 30_000 }, async () => {
    const work = new Promise<string>((resolve) => later(() => resolve('finished')));
    assert.equal(await timeout(HUGE, work), 'finished');
  });

  it('AsyncExecutor: a 200 ms task with timeout 3e9 succeeds', { timeout: 30_000 }, async () => {
    await using ex = new AsyncExecutor();
    const f = ex.submitWith({ timeout: HUGE }, async () => {
      await new Promise((r) => setTimeout(r, 200));
      return 'done';
    });
    assert.equal(await f, 'done');
  });

  it('thread.join(3e9) waits for the thread to end', { timeout: 30_000 }, async () => {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const t = new Thread({
      target: (f: Int32Array) => {
        Atomics.wait(f, 0, 0);
      },
      args: [flag],
    });
    t.start();
    later(() => {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
    await t.join(HUGE);
    assert.equal(t.isAlive(), false);
    assert.equal(t.exitCode, 0);
  });

  it('ThreadPoolExecutor: a 200 ms task with timeout 3e9 succeeds, and map(..., { timeout: 3e9 }) yields', { timeout: 60_000 }, async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    assert.equal(await pool.submitWith({ timeout: HUGE }, tasks.sleepy, 200, 'slept'), 'slept');
    const out: number[] = [];
    for await (const x of pool.map(tasks.inc, [1, 2], { timeout: HUGE })) out.push(x);
    assert.deepEqual(out, [2, 3]);
  });

  it('Queue.get({ timeout: 3e9 }) waits for the item', { timeout: 30_000 }, async () => {
    const q = new Queue<string>();
    later(() => q.putNowait('late'));
    assert.equal(await q.get({ timeout: HUGE }), 'late');
    await assert.rejects(q.get({ timeout: 5 }), Empty);
  });

  it('ThreadPoolExecutor({ idleTimeout: 3e9 }) keeps its idle worker', { timeout: 60_000 }, async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1, idleTimeout: HUGE });
    const first = await pool.submit(tasks.threadId);
    await sleep(LATER_MS * 2);
    assert.equal(await pool.submit(tasks.threadId), first);
  });
});
