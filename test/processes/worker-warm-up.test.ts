import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ProcessPoolExecutor } from '../../src/index.js';
import type { WorkerEvents, WorkerHandle } from '../../src/pool/pool-types.js';
import { WorkerRuntime, type WorkerInit } from '../../src/pool/worker-runtime.js';
import { tasks } from '../fixtures/tasks.js';
import { CTRL_SLOTS, FAILED, FLAG_SPAN, OK, RESULTS, TASKS } from '../../src/transport/protocol.js';

/**
 * A runtime whose messages to the pool are recorded. `nextResults(n)` resolves with the
 * next `n` results sent (seq, status, value each), whether they come in one RESULTS
 * message or several: the runtime flushes a result that has waited 2 ms, so a worker
 * preempted between two tasks (a loaded machine) sends them apart.
 */
function recorded(): { runtime: WorkerRuntime; ctrl: Int32Array; sent: unknown[][]; nextResults: (n: number) => Promise<unknown[]> } {
  const sent: unknown[][] = [];
  let want: { n: number; got: unknown[]; resolve: (results: unknown[]) => void } | undefined;
  const ctrl = new Int32Array(CTRL_SLOTS);
  const runtime = new WorkerRuntime(
    {
      send: (msg) => {
        sent.push(msg);
        if (msg[0] !== RESULTS || want === undefined) return;
        want.got.push(...msg.slice(2));
        if (want.got.length >= 3 * want.n) want.resolve(want.got);
      },
    },
    ctrl,
  );
  return { runtime, ctrl, sent, nextResults: (n) => new Promise((resolve) => (want = { n, got: [], resolve })) };
}

it('a warmed-up worker tells the pool nothing of its warm-up, and runs the first batch as a fresh one', async () => {
  const { runtime, ctrl, sent, nextResults } = recorded();
  runtime.warmUp();
  assert.deepEqual(sent, [], 'the warm-up sent nothing');
  assert.ok(ctrl.every((v) => v === 0), 'the warm-up left the shared counters as they were');

  const double = { kind: 'inline', source: '(x) => x * 2', name: 'double' };
  const add = { kind: 'inline', source: '(a, b) => a + b', name: 'add' };
  const results = nextResults(2);
  // seq 7 and 8: the pool's numbering, whatever the warm-up counted
  runtime.onMessage([TASKS, [0, double, 1, add], 7, 0, FLAG_SPAN, 21, 1, 2 * FLAG_SPAN, { n: 1 }, 'b']);
  assert.deepEqual(await results, [7, OK, 42, 8, OK, '[object Object]b']);
  assert.equal(ctrl[0], 8, 'the seq of the last task run');
});

it('the warm-up functions are gone afterwards: a task numbered as one is not run', async () => {
  const { runtime, nextResults } = recorded();
  runtime.warmUp();
  const results = nextResults(1);
  runtime.onMessage([TASKS, null, 3, -1, FLAG_SPAN, 5]);
  const [seq, status] = await results;
  assert.equal(seq, 3);
  assert.equal(status, FAILED);
});

/** A process pool that notes whether each worker it starts is asked to warm up. */
class Noting extends ProcessPoolExecutor {
  readonly warmUps: boolean[] = [];
  protected override spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle {
    this.warmUps.push(init.warmUp === true);
    return super.spawnWorker(init, events);
  }
}

it('a worker started for a lone task goes straight to it; workers started into a queue warm up first', async () => {
  const lone = new Noting({ maxWorkers: 2 });
  assert.equal(await lone.submit(tasks.inc, 1), 2);
  assert.deepEqual(lone.warmUps, [false]);
  await lone.shutdown();

  const queued = new Noting({ maxWorkers: 2 });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => queued.submit(tasks.inc, i)));
  assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i + 1));
  assert.deepEqual(queued.warmUps, [true, true]);
  await queued.shutdown();
});

it('workers replaced after fewer tasks than the warm-up runs do not warm up', async () => {
  const pool = new Noting({ maxWorkers: 2, maxTasksPerWorker: 10 });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.submit(tasks.inc, i)));
  assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i + 1));
  assert.ok(pool.warmUps.length >= 5, `a worker per 10 tasks (${pool.warmUps.length} started)`);
  assert.ok(pool.warmUps.every((w) => !w));
  await pool.shutdown();
});
