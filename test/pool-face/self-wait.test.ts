/**
 * A Pool's callbacks run one at a time in the calling thread, and join() waits for all
 * of them: a callback that joins its own pool would wait for itself. (A task cannot: it
 * runs in a worker, which has no way to the pool.) The face is the same for Pool and
 * ThreadPool; a ThreadPool starts faster.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, ThreadPool } from '../../src/index.js';
import { poolTasks as t } from '../fixtures/pool-tasks.js';
import { ends as guard } from '../fixtures/ends.js';

/** `p`, or a failure naming `what` after 5000 ms. */
const ends = <T>(p: PromiseLike<T>, what: string, ms = 5000): Promise<T> => guard(p, what, ms);

const SELF_JOIN = /Pool\.join\(\) was called from inside one of its callbacks/;

describe('Pool callbacks that wait for their own pool', () => {
  it('close() and join() in a callback: join fails at once, the callbacks after it still run, and join from outside ends', async () => {
    const pool = new ThreadPool(2);
    const seen: unknown[] = [];
    const first = pool.applyAsync(t.sqr, [3], {
      callback: async () => {
        pool.close();
        await pool.join().catch((err: unknown) => seen.push(err));
      },
    });
    await ends(first.wait(), 'the result whose callback joins the pool');
    assert.equal(seen.length, 1);
    assert.match(String(seen[0]), SELF_JOIN);
    await ends(pool.join(), 'join from outside');
  });

  it('an errorCallback that joins is refused the same way, and later results are still delivered', async () => {
    const pool = new ThreadPool(2);
    let refused: unknown;
    const later: number[] = [];
    const failing = pool.applyAsync(t.failAfter, [1, 'boom'], {
      errorCallback: async () => {
        pool.close();
        try {
          await pool.join();
        } catch (err) {
          refused = err;
        }
      },
    });
    const next = pool.applyAsync(t.sqr, [4, 30], { callback: (v) => void later.push(v) });
    await assert.rejects(ends(failing.get(), 'the failing result'), /boom/);
    assert.match(String(refused), SELF_JOIN);
    assert.equal(await ends(next.get(), 'a result after it'), 16);
    assert.deepEqual(later, [16]);
    await ends(pool.join(), 'join from outside');
  });

  it('a callback that awaits get() or wait() of a result with a callback (its own or a later one) is refused; a result without one it may await', async () => {
    const pool = new ThreadPool(2);
    const outcomes: string[] = [];
    const said = (name: string) => [
      () => outcomes.push(`${name}: ended`),
      (err: unknown) => outcomes.push(`${name}: ${/AsyncResult\.(get|wait)\(\) was called from inside a callback of its pool/.test(String(err)) ? 'refused' : String(err)}`),
    ];
    const started = new Event();
    const release = new Event();
    const later = pool.applyAsync(t.hold, [started, release], { callback: () => void outcomes.push('later callback') });
    await ends(started.wait(), 'the held task starting');
    const own = pool.applyAsync(t.sqr, [3], {
      callback: async () => {
        await own.get().then(...said('own get'));
        await later.get().then(...said('later get'));
        await later.wait().then(...said('later wait'));
        outcomes.push(`apply: ${await pool.apply(t.sqr, [2])}`);
        release.set();
      },
    });
    assert.equal(await ends(own.get(), 'the result whose callback waits for results'), 9);
    assert.equal(await ends(later.get(), 'the later result'), 'released');
    assert.deepEqual(outcomes, ['own get: refused', 'later get: refused', 'later wait: refused', 'apply: 4', 'later callback']);
    pool.close();
    await ends(pool.join(), 'join from outside');
  });

  it('terminate() awaited in a callback ends once the workers have exited, as Python does not join its result handler from it', async () => {
    const pool = new ThreadPool(2);
    let terminated = false;
    const r = pool.applyAsync(t.sqr, [5], {
      callback: async () => {
        await pool.terminate();
        terminated = true;
      },
    });
    assert.equal(await ends(r.get(), 'the result whose callback terminates the pool'), 25);
    assert.equal(terminated, true);
    await ends(pool.terminate(), 'terminate from outside');
    await ends(pool.join(), 'join after terminate');
  });
});
