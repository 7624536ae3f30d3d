// An item a remote get took for a caller that could not have it (the caller gave up
// waiting, or died before the answer could be written) goes back into its queue. When
// that happens after a plain shutdown, or while the queue is full and a plain shutdown
// comes, the getters that drain the queue are still owed it; after an immediate
// shutdown it is dropped with the rest. (The owner's broker side, driven directly.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedQueue } from '../../src/index.js';
import { newCaller } from '../../src/proxy/callers.js';
import { SERVED, UNDO } from '../../src/proxy/served.js';
import { joinsWithin } from '../fixtures/joins.js';

const caller = newCaller(1);
const putBack = (q: SharedQueue<unknown>, item: unknown): Promise<void> => SERVED.SharedQueue!.putBack!(q, [item], caller) as Promise<void>;

/** The item a get took, as the owner's broker holds it before it answers. */
function taken(q: SharedQueue<unknown>, unfinished = 1): unknown {
  const item = q.getNowait();
  assert.equal(q._unfinished(), unfinished, 'the item taken is still unfinished');
  return item;
}

describe('SharedQueue: an item given back by the broker', () => {
  it('after a plain shutdown goes back in, and the getters draining the queue get it', async () => {
    const q = new SharedQueue<unknown>({ maxsize: 2 });
    q.putNowait('a');
    const a = taken(q);
    q.shutdown();
    await putBack(q, a);
    assert.equal(q.getNowait(), 'a');
    q.taskDone();
    await joinsWithin(q);
    assert.throws(() => q.getNowait(), { name: 'QueueShutDown' });
    assert.throws(() => q.putNowait('late'), { name: 'QueueShutDown' }, 'an ordinary put is still refused');
  });

  it('waiting for room in a full queue when a plain shutdown comes, goes in once a getter makes room', async () => {
    const q = new SharedQueue<unknown>({ maxsize: 1 });
    q.putNowait('a');
    const a = taken(q);
    q.putNowait('b'); // full again
    let landed = false;
    const back = putBack(q, a).then(() => (landed = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(landed, false, 'no room yet');
    q.shutdown();
    assert.equal(q.getNowait(), 'b');
    q.taskDone();
    await back;
    assert.equal(q.getNowait(), 'a');
    q.taskDone();
    await joinsWithin(q);
  });

  it('after an immediate shutdown is dropped with the rest, and join() does not wait for it', async () => {
    const q = new SharedQueue<unknown>({ maxsize: 2 });
    q.putNowait('a');
    q.putNowait('b');
    const a = taken(q, 2);
    q.shutdown({ immediate: true });
    await putBack(q, a);
    assert.throws(() => q.getNowait(), { name: 'QueueShutDown' });
    assert.equal(q._unfinished(), 0);
    await joinsWithin(q);
  });

  it("a dead caller's get (the broker's undo) gives its item back through a plain shutdown too", async () => {
    const q = new SharedQueue<unknown>({ maxsize: 2 });
    q.putNowait('a');
    const a = taken(q);
    q.shutdown();
    UNDO.SharedQueue!(q, 'get', a, caller);
    // The undo puts back asynchronously only when it must wait for room: here it lands at once.
    assert.equal(q.getNowait(), 'a');
    q.taskDone();
    await joinsWithin(q);
  });
});
