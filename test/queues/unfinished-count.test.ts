// The unfinished count of a SharedQueue is derived, PUT_COUNT - TASKS_DONE - DROPPED
// (src/queues/shared-queue.ts), from words read one after another without a lock. A put
// and an immediate shutdown that fall between two of those reads must never make the
// count look lower than it is: join() would return with an item in hand, and taskDone()
// for that item would throw. The interleaving is made exact by running them inside the
// read of PUT_COUNT (an Atomics.load wrapped for the test).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedQueue } from '../../src/index.js';

const PUT_COUNT = 32; // header words (layout of src/queues/shared-queue.ts)
const DONE = 194; // bumped when the count reaches 0: joiners sleep on it

/** Runs `read` with `between` run once right after its load of q's PUT_COUNT. */
function withRace<R>(q: SharedQueue<string>, between: () => void, read: () => R): R {
  const load = Atomics.load;
  let armed = true;
  (Atomics as { load: typeof Atomics.load }).load = ((view: Int32Array, index: number) => {
    const v = load(view, index);
    if (armed && view === q._header && index === PUT_COUNT) {
      armed = false;
      between();
    }
    return v;
  }) as typeof Atomics.load;
  try {
    return read();
  } finally {
    (Atomics as { load: typeof Atomics.load }).load = load;
  }
}

/** A queue with one item got and not yet done ('A'). */
function oneInHand(): SharedQueue<string> {
  const q = new SharedQueue<string>();
  q.putNowait('A');
  assert.equal(q.getNowait(), 'A');
  return q;
}

const putAndDrop = (q: SharedQueue<string>) => () => {
  q.putNowait('B');
  q.shutdown({ immediate: true }); // drops B
};

describe('SharedQueue: the unfinished count read while a put and an immediate shutdown go by', () => {
  it('never looks lower than it is: the item in hand still counts (join would return early)', () => {
    const q = oneInHand();
    const n = withRace(q, putAndDrop(q), () => q._unfinished());
    assert.equal(q._unfinished(), 1, 'A is in hand, B was dropped');
    assert.ok(n >= 1, `the count read meanwhile was ${n}`);
  });

  it('taskDone() for the item in hand does not throw', () => {
    const q = oneInHand();
    withRace(q, putAndDrop(q), () => q.taskDone());
    assert.equal(q._unfinished(), 0);
    assert.throws(() => q.taskDone(), /too many times/);
  });

  it('the taskDone() that brings the count to 0 while an immediate shutdown drops the rest wakes the joiners', () => {
    const q = oneInHand();
    q.putNowait('B');
    const done = Atomics.load(q._header, DONE);
    withRace(q, () => q.shutdown({ immediate: true }), () => q.taskDone());
    assert.equal(q._unfinished(), 0);
    assert.notEqual(Atomics.load(q._header, DONE), done, 'DONE was bumped: a joiner asleep on it wakes now, not a slice later');
  });
});
