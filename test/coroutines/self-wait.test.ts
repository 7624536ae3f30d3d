import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsyncExecutor, sleep, TaskGroup } from '../../src/index.js';
import { ends as guard } from '../fixtures/ends.js';

/** `p`, or a failure naming `what` after 3000 ms. */
const ends = <T>(p: PromiseLike<T>, what: string, ms = 3000): Promise<T> => guard(p, what, ms);

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const SELF_SHUTDOWN = /AsyncExecutor\.shutdown\(\) .* from inside one of its own tasks/;

describe('AsyncExecutor: a task that waits for its own executor', () => {
  it('awaiting shutdown() at its start fails that task; the shutdown still happens and the others finish', async () => {
    const ex = new AsyncExecutor();
    const other = gate();
    const otherDone = ex.submit(async () => {
      await other.wait;
      return 'other';
    });
    const self = ex.submit(async () => {
      await ex.shutdown();
      return 'unreachable';
    });
    await assert.rejects(ends(self.result(), 'the task awaiting its own shutdown'), SELF_SHUTDOWN);
    assert.equal(ex.isShutdown, true);
    assert.throws(() => ex.submit(() => 1), /cannot schedule new futures after shutdown/);
    assert.equal(otherDone.done(), false);
    // A done callback is not a task: its wait for the shutdown ends when the other task does.
    const fromCallback = new Promise<string>((resolve, reject) => {
      self.addDoneCallback(() => {
        ex.shutdown().then(() => resolve('waited'), reject);
      });
    });
    const outside = ex.shutdown();
    other.open();
    assert.equal(await ends(otherDone.result(), 'the other task'), 'other');
    await ends(outside, 'the shutdown awaited from outside');
    assert.equal(await ends(fromCallback, 'the shutdown awaited from a done callback'), 'waited');
  });

  it('the only task, awaiting shutdown() before its first await, fails saying so (it hung)', async () => {
    const ex = new AsyncExecutor({ maxConcurrency: 2 });
    const self = ex.submit(async () => {
      await ex.shutdown();
      return 'unreachable';
    });
    await assert.rejects(ends(self.result(), 'the only task awaiting its own shutdown'), SELF_SHUTDOWN);
    await ends(ex.shutdown(), 'the shutdown awaited from outside');
  });

  it('is told apart through awaits and helpers, with a timeout, and by await using', async () => {
    const ex = new AsyncExecutor({ maxConcurrency: 2 });
    async function stopAll(): Promise<void> {
      await sleep(1);
      await ex.shutdown({ wait: true });
    }
    const deep = ex.submit(async () => {
      await sleep(1);
      await Promise.all([stopAll()]);
    });
    const disposing = ex.submit(async () => {
      await using owned = ex;
      void owned;
      await sleep(1);
    });
    const timed = ex.submitWith({ timeout: 60_000 }, async () => {
      await sleep(1);
      await ex.shutdown();
    });
    // Shutting down without waiting is what a task may do.
    const quits = ex.submit(async () => {
      await sleep(1);
      await ex.shutdown({ wait: false });
      void ex.shutdown(); // not awaited: refused all the same, and no unhandled rejection
      return 'quit';
    });
    await assert.rejects(ends(deep.result(), 'a task awaiting its shutdown through a helper'), SELF_SHUTDOWN);
    await assert.rejects(ends(disposing.result(), 'a task leaving await using of its own executor'), SELF_SHUTDOWN);
    await assert.rejects(ends(timed.result(), 'a task with a timeout awaiting its shutdown'), SELF_SHUTDOWN);
    assert.equal(await ends(quits.result(), 'a task shutting down without waiting'), 'quit');
    await ends(ex.shutdown(), 'the shutdown from outside');
  });
});

describe('TaskGroup: a child that waits for its own group', () => {
  it('fails that child, which fails the group; the siblings are aborted and waited for', async () => {
    let siblingAborted = false;
    const run = TaskGroup.run(async (tg) => {
      tg.spawn(async (signal) => {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        siblingAborted = true;
      });
      tg.spawn(async () => {
        await sleep(1);
        await tg.wait();
      });
    });
    await assert.rejects(ends(run, 'TaskGroup.run whose child waits for the group'), /a child of a TaskGroup waited for its own group/);
    assert.equal(siblingAborted, true);
  });

  it('await using of the group inside its child fails that child; the body still waits for the group', async () => {
    const tg = new TaskGroup();
    const child = tg.spawn(async () => {
      await using inner = tg;
      void inner;
      await sleep(1);
    });
    await assert.rejects(ends(child, 'a child leaving await using of its own group'), /a child of a TaskGroup waited for its own group/);
    await assert.rejects(ends(tg.wait(), 'the group waited for from outside'), /a child of a TaskGroup waited for its own group/);
  });
});
