import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledError, Future, gather, sleep, TaskGroup, timeout, TimeoutError } from '../../src/index.js';

/** A promise that settles only when the signal aborts, with its reason. */
const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe('TaskGroup', () => {
  it('waits for every child and returns what the body returns', async () => {
    const order: string[] = [];
    const result = await TaskGroup.run(async (tg) => {
      const a = tg.spawn(async () => {
        await sleep(5);
        order.push('a');
        return 1;
      });
      tg.spawn(async () => {
        order.push('b');
      });
      return (await a) + 1;
    });
    assert.equal(result, 2);
    assert.deepEqual(order.sort(), ['a', 'b']);
  });

  it('the first failure aborts the siblings through their signal, and is thrown as itself', async () => {
    let siblingSaw: unknown;
    const boom = new Error('boom');
    await assert.rejects(
      TaskGroup.run(async (tg) => {
        tg.spawn(async (signal) => {
          try {
            await untilAborted(signal);
          } catch (e) {
            siblingSaw = e;
            throw e;
          }
        });
        tg.spawn(async () => {
          throw boom;
        }).catch(() => {});
      }),
      (e) => e === boom,
    );
    assert.equal(siblingSaw, boom);
  });

  it('several failures come back together as an AggregateError', async () => {
    await assert.rejects(
      TaskGroup.run(async (tg) => {
        const gate = sleep(1);
        tg.spawn(async () => {
          await gate;
          throw new Error('one');
        }).catch(() => {});
        tg.spawn(async () => {
          await gate;
          throw new Error('two');
        }).catch(() => {});
      }),
      (e) => e instanceof AggregateError && e.errors.map((x: Error) => x.message).sort().join() === 'one,two',
    );
  });

  it('a body that awaits the failed child rethrows its error, which is thrown once, as itself (the README example)', async () => {
    const boom = new Error('boom');
    await assert.rejects(
      TaskGroup.run(async (tg) => {
        const a = tg.spawn(async () => {
          await sleep(1);
          throw boom;
        });
        const b = tg.spawn((signal) => sleep(60_000, { signal }));
        return [await a, await b];
      }),
      (e) => e === boom, // was AggregateError [boom, boom]: the child's failure, and again the body's
    );
  });

  it('a child cancelled from outside (it ends with CancelledError) is not a failure: the siblings go on and the group ends normally, as asyncio\'s', async () => {
    const outside = new Future<string>();
    let siblingAborted: boolean | undefined;
    const gate = new Future<void>();
    let cancelledChild: Promise<unknown> | undefined;
    const result = await TaskGroup.run(async (tg) => {
      cancelledChild = tg.spawn(() => outside); // awaits a Future that is cancelled from outside
      const sibling = tg.spawn(async (signal) => {
        await gate;
        siblingAborted = signal.aborted;
        return 'sibling';
      });
      tg.spawn(async () => {
        throw new CancelledError('cancelled itself'); // as a task that raises CancelledError
      });
      outside.cancel();
      await assert.rejects(cancelledChild, CancelledError); // the child's own promise says so
      gate.setResult();
      return await sibling;
    });
    assert.equal(result, 'sibling');
    assert.equal(siblingAborted, false);
    // With a real failure beside it, only the failure is thrown.
    const boom = new Error('boom');
    await assert.rejects(
      TaskGroup.run(async (tg) => {
        const f = new Future<void>();
        tg.spawn(() => f);
        f.cancel();
        tg.spawn(async () => {
          throw boom;
        });
      }),
      (err) => err === boom,
    );
  });

  it('works with await using, and refuses spawns after it finished', async () => {
    let done = false;
    const tg = new TaskGroup();
    {
      await using group = tg;
      group.spawn(async () => {
        await sleep(1);
        done = true;
      });
    }
    assert.equal(done, true);
    assert.throws(() => tg.spawn(async () => {}), /has finished/);
    assert.throws(() => new TaskGroup().spawn(1 as never), TypeError);
  });
});

describe('sleep, timeout, gather', () => {
  it('sleep resolves, or rejects with the abort reason', async () => {
    await sleep(1);
    const ac = new AbortController();
    const s = sleep(10_000, { signal: ac.signal });
    ac.abort(new Error('woken'));
    await assert.rejects(s, /woken/);
    assert.throws(() => sleep(-1), RangeError);
    // Python's time.sleep(None) and asyncio.sleep(None) raise TypeError; it resolved at once.
    for (const bad of [undefined, null, '10']) assert.throws(() => sleep(bad as never), (e) => e instanceof TypeError && /sleep: ms must be a number/.test(e.message), String(bad));
  });

  it('timeout passes results through, and raises TimeoutError after aborting the work', async () => {
    assert.equal(await timeout(1000, Promise.resolve(7)), 7);
    let aborted = false;
    await assert.rejects(
      timeout(5, async (signal) => {
        await untilAborted(signal).catch(() => (aborted = true));
      }),
      TimeoutError,
    );
    assert.equal(aborted, true);
  });

  it('timeout(undefined, work) sets no deadline: it waits for the work, as asyncio.wait_for(aw, None) and asyncio.timeout(None)', async () => {
    const gate = new Future<string>();
    let sawAbort: boolean | undefined;
    const waiting = timeout(undefined, async (signal) => {
      const v = await gate;
      sawAbort = signal.aborted;
      return v;
    });
    await sleep(5); // any deadline timer set at the call would have fired before this one
    gate.setResult('done');
    assert.equal(await waiting, 'done');
    assert.equal(sawAbort, false);
    assert.equal(await timeout(undefined, Promise.resolve(8)), 8);
  });

  it('gather keeps order; the first failure rejects; returnExceptions puts errors in place', async () => {
    assert.deepEqual(await gather([sleep(2).then(() => 'slow'), Promise.resolve('fast'), 3] as const), ['slow', 'fast', 3]);
    await assert.rejects(gather([Promise.reject(new Error('bad')), Promise.resolve(1)]), /bad/);
    const mixed = await gather([Promise.reject(new Error('bad')), Promise.resolve(1)], { returnExceptions: true });
    assert.ok(mixed[0] instanceof Error);
    assert.equal(mixed[1], 1);
  });
});
