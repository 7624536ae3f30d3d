// A Thread (or a thread-pool worker) stopped from outside while Processes it started
// still run: they end with it, daemon or not, as a process's children end with a process
// that is killed, and they are reaped. The thread's event loop, which would have reaped
// them, is gone: they stayed zombies of this process for as long as it ran. Reaping takes
// the native part (Node has no waitpid): without it they end and stay zombies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedQueue, Thread, ThreadPoolExecutor } from '../../src/index.js';
import { leftChildren, type ChildWay } from '../fixtures/left-children-tasks.js';
import { procStat } from '../fixtures/procs.js';
import { native } from '../../src/sync/shm.js';

/**
 * Resolves once none of `pids` exists any more, not even as a zombie (with the native
 * part; without it, once none runs); rejects with their states after `ms`.
 */
async function reaped(pids: number[], ms: number): Promise<void> {
  // Bounded wait for a condition (not a race): check every 50 ms, give up at `ms`.
  const deadline = performance.now() + ms;
  for (;;) {
    const left = pids.flatMap((pid) => {
      const s = procStat(pid);
      return s === undefined || (native?.reapChild === undefined && s.state === 'Z') ? [] : [`${pid} state ${s.state} parent ${s.ppid}`];
    });
    if (left.length === 0) return;
    assert.ok(performance.now() < deadline, `still there after ${ms} ms (this process is ${process.pid}): ${left.join('; ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const WAYS: ChildWay[] = ['forever', 'forever', 'spin'];
const DAEMONS = [true, false, false];

describe('the children of a thread that is stopped', () => {
  for (const hang of ['async', 'spin'] as const) {
    it(`Thread.terminate() of a thread ${hang === 'spin' ? 'in a synchronous loop' : 'awaiting'}: its daemon and non-daemon Processes end and are reaped`, async () => {
      const pids = new SharedQueue<number>();
      const t = new Thread({ target: leftChildren.leave, args: [WAYS, DAEMONS, pids, null, null, hang] }).start();
      const children = [await pids.get(), await pids.get(), await pids.get()];
      t.terminate();
      await t.join();
      assert.equal(t.exitCode, 1);
      await reaped(children, 10_000);
    });
  }

  it('Thread.terminate() of a thread whose own Thread started Processes: those end and are reaped too', async () => {
    const pids = new SharedQueue<number>();
    const t = new Thread({ target: leftChildren.nest, args: [WAYS, DAEMONS, pids] }).start();
    const children = [await pids.get(), await pids.get(), await pids.get()];
    t.terminate();
    await t.join();
    await reaped(children, 10_000);
  });

  it('Thread.terminate() of a thread whose Processes were started 9 Threads further down: those end and are reaped too', async () => {
    const pids = new SharedQueue<number>();
    const t = new Thread({ target: leftChildren.nestDeep, args: [9, WAYS, DAEMONS, pids] }).start();
    const children = [await pids.get(), await pids.get(), await pids.get()];
    t.terminate();
    await t.join();
    await reaped(children, 10_000);
  });

  it('a thread-pool worker stopped because its task was aborted: the Processes the task started end and are reaped', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const pids = new SharedQueue<number>();
    const abort = new AbortController();
    const task = pool.submitWith({ signal: abort.signal }, leftChildren.leave, WAYS, DAEMONS, pids, null, null, 'spin');
    const children = [await pids.get(), await pids.get(), await pids.get()];
    abort.abort(new Error('stopped by the test'));
    assert.match(String(await task.exception()), /stopped by the test/);
    await reaped(children, 10_000);
  });
});
