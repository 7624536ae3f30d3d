// A SharedQueue between a producer and a consumer process SIGKILLed at random points
// (src/queues/shared-queue.ts, "A process that dies inside"): whichever section each was
// in, the next taker repairs it, and the queue stays exact. Apart from died-inside.test.ts,
// whose killed-at-a-seam tests took 57 s under load: the two together passed the runner's
// 120 s per file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Process, SharedArray, SharedQueue } from '../../src/index.js';
import { native } from '../../src/sync/shm.js';
import { shmTasks } from '../fixtures/shm-tasks.js';
import { fill, locksFree } from '../fixtures/queue-checks.js';

const inMemory = native !== undefined;
/** A number's record: a 4-byte length, a tag, a float64. */
const RECORD = 4 + 1 + 8;
/** Rounds to run, unless the time below runs out first. */
const ROUNDS = 12;
/**
 * Each round starts two processes, which took 8 s a round at load 30: past this, no new
 * round starts (at least MIN_ROUNDS run), so a loaded machine runs fewer, not past the
 * runner's timeout.
 */
const BUDGET_MS = 60_000;
const MIN_ROUNDS = 3;

describe('a SharedQueue whose producer and consumer processes are SIGKILLed at random points', { skip: inMemory ? false : 'the queue crosses as a proxy without the native part' }, () => {
  it('stays exact round after round: no item twice, none invented, at most the one in each dead hand lost, no byte lost', { timeout: 120_000 }, async () => {
    const perRound = 1_000_000;
    const started = performance.now();
    const q = new SharedQueue<number>({ capacityBytes: 4096 });
    let killedInside = 0;
    let round = 0;
    for (; round < ROUNDS && (round < MIN_ROUNDS || performance.now() - started < BUDGET_MS); round++) {
      const from = round * perRound;
      const progress = new SharedArray('i32', 3);
      const got = new SharedArray('u8', perRound);
      const producer = new Process({ target: shmTasks.queuePutLoop as never, args: [q, from, perRound, progress] }).start();
      const consumer = new Process({ target: shmTasks.queueGetLoop as never, args: [q, from, got, progress] }).start();
      while (Atomics.load(progress.array as Int32Array, 1) === 0 || Atomics.load(progress.array as Int32Array, 2) === 0) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 40)));
      // Either one first, or both at once: each side's lock may be left held.
      const order = round % 3;
      if (order !== 1) consumer.kill();
      producer.kill();
      if (order === 1) consumer.kill();
      await Promise.all([producer.join(), consumer.join()]);
      if (Atomics.load(q._header, 0) !== 0 || Atomics.load(q._header, 64) !== 0) killedInside++;
      const returned = Atomics.load(progress.array as Int32Array, 0);
      // Drain: the first get takes a dead getter's lock over and repairs (a dead putter's
      // lock waits for the next put, in fill() below).
      const left: number[] = [];
      while (!q.empty()) left.push(q.getNowait());
      const takenBy = got.array as Uint8Array;
      const dup: number[] = [];
      const invented: number[] = [];
      for (const id of left) {
        if (id < from || id >= from + perRound) invented.push(id);
        else if (takenBy[id - from]! > 0) dup.push(id);
      }
      assert.deepEqual(invented, [], `round ${round}: items never put came out`);
      assert.deepEqual(dup, [], `round ${round}: items came out twice`);
      for (let i = 0; i < perRound; i++) assert.ok(takenBy[i]! <= 1, `round ${round}: item ${from + i} got twice`);
      // Every put that returned is there, or taken; the one in flight may or may not be.
      const seen = new Set(left);
      let missing = 0;
      for (let i = 0; i < returned; i++) if (takenBy[i] === 0 && !seen.has(from + i)) missing++;
      assert.ok(missing <= 1, `round ${round}: ${missing} items whose put returned are gone (only the one in the dead consumer's hand may be)`);
      const beyond = [...left, ...[...takenBy.keys()].filter((i) => takenBy[i]! > 0).map((i) => from + i)].filter((id) => id >= from + returned + 1);
      assert.deepEqual(beyond, [], `round ${round}: items past the put in flight came out`);
      assert.equal(fill(q), Math.floor(4096 / RECORD), `round ${round}: bytes of the ring were lost`);
      // A consumer killed holding the getters' lock on an empty queue left it for the next
      // get (the drain above made none): this one takes it over, as any taker would.
      q.getNowait();
      locksFree(q);
      while (!q.empty()) q.getNowait();
    }
    // Not asserted (it is up to the scheduler), but said: how often a lock was left held.
    console.log(`# ${killedInside} of ${round} rounds left a lock held by a dead process`);
  });
});
