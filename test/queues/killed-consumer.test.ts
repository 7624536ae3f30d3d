// A consumer stopped while it waits in getSync, in a thread (terminate) or in another
// process (SIGKILL, the get served by the queue's owner): the queue's unfinished count
// stays what the live side explains, so join() returns once the items it got are done,
// and one more taskDone() throws.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, Process, SharedQueue, Thread } from '../../src/index.js';
import { stopTasks } from '../fixtures/stop-tasks.js';
import { joinsWithin } from '../fixtures/joins.js';

// Header words (src/queues/shared-queue.ts).
const GET_WAITERS = 128;

/** Resolves once a getter sleeps in the queue (its own thread's, or the owner's broker for a remote caller). */
async function getterAsleep(q: SharedQueue<unknown>): Promise<void> {
  const until = performance.now() + 60_000;
  while (Atomics.load(q._header, GET_WAITERS) === 0) {
    assert.ok(performance.now() < until, 'the consumer never got to wait in get');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The owner puts `items`, gets each (waiting: one may be on its way back from a dead caller's get) and marks it done. */
async function drainAndJoin(q: SharedQueue<unknown>, items: unknown[]): Promise<void> {
  const got: unknown[] = [];
  for (let i = 0; i < items.length; i++) {
    got.push(await q.get({ timeout: 20_000 }));
    q.taskDone();
  }
  assert.deepEqual([...got].sort(), [...items].sort());
  await joinsWithin(q);
  assert.equal(q._unfinished(), 0);
  assert.throws(() => q.taskDone(), /taskDone\(\) called too many times/);
  assert.equal(q.qsize(), 0);
}

describe('SharedQueue: a consumer killed in getSync', () => {
  it('a thread terminated while it waits leaves the unfinished count alone', async () => {
    const q = new SharedQueue<unknown>({ maxsize: 2 });
    const t = new Thread({ target: stopTasks.getForever, args: [q] }).start();
    await getterAsleep(q);
    t.terminate();
    await t.join();
    assert.equal(q._unfinished(), 0);
    q.putSync('a');
    q.putSync('b');
    await drainAndJoin(q, ['a', 'b']);
  });

  it('a thread terminated holding an item it got leaves exactly that one unfinished', async () => {
    const q = new SharedQueue<unknown>({ maxsize: 2 });
    const got = new Event();
    q.putSync('held');
    const t = new Thread({ target: stopTasks.getAndHold, args: [q, got] }).start();
    assert.equal(await got.wait(60_000), true);
    t.terminate();
    await t.join();
    assert.equal(q._unfinished(), 1, 'the item in the dead hand, and nothing more');
    q.taskDone(); // for the dead hand
    q.putSync('after');
    await drainAndJoin(q, ['after']);
  });

  it('a process SIGKILLed while the owner serves its get: an item put once it is dead comes back, got once and done once', { timeout: 180_000 }, async () => {
    const q = new SharedQueue<unknown>({ maxsize: 2 });
    const p = new Process({ target: stopTasks.getForever, args: [q] }).start();
    await getterAsleep(q);
    p.kill();
    await p.join();
    assert.equal(p.exitCode, -9);
    // The owner's broker may not have seen the connection close yet: its get for the
    // dead caller may take this item, and must give it back when the answer cannot go.
    q.putNowait('racing');
    q.putNowait('after');
    await drainAndJoin(q, ['racing', 'after']);
  });

  it('a process SIGKILLed holding an item it got leaves exactly that one unfinished', { timeout: 180_000 }, async () => {
    const q = new SharedQueue<unknown>({ maxsize: 2 });
    const got = new Event();
    q.putSync('held');
    const p = new Process({ target: stopTasks.getAndHold, args: [q, got] }).start();
    assert.equal(await got.wait(60_000), true);
    p.kill();
    await p.join();
    assert.equal(q._unfinished(), 1, 'the item in the dead hand, and nothing more');
    q.taskDone(); // for the dead hand
    q.putSync('after');
    await drainAndJoin(q, ['after']);
  });
});
