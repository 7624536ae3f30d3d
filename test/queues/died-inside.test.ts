// A SharedQueue in memory several processes map (src/queues/shared-queue.ts, "A process
// that dies inside"): a process SIGKILLed inside a put or a get leaves the internal lock
// held and the section half done. The next taker is told the holder died, repairs the
// section from its journal, and the queue goes on exact: no item twice, none invented,
// no byte of the ring lost, the unfinished count right. A seam of the queue
// (CONCUR_TEST_QUEUE_DIE) kills the child at the worst points. Without the native part
// the queue crosses as a proxy, whose dead callers test/proxy covers: nothing here applies
// (and CI, on Linux x64, always has the native part: test/processes/shared-memory.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Process, SharedArray, SharedQueue, Thread } from '../../src/index.js';
import { native } from '../../src/sync/shm.js';
import { shmTasks } from '../fixtures/shm-tasks.js';
import { joinsWithin } from '../fixtures/joins.js';
import { fill, locksFree } from '../fixtures/queue-checks.js';

const inMemory = native !== undefined;
const CAPACITY = 256;
/** A number's record: a 4-byte length, a tag, a float64. */
const RECORD = 4 + 1 + 8;

/** Runs `target` in a child with the seam set; resolves once it has exited (killed, or not). */
async function runDying(die: string, target: (...args: never[]) => unknown, args: unknown[]): Promise<number | null | undefined> {
  const p = new Process({ target: target as never, args, env: { ...process.env, CONCUR_TEST_QUEUE_DIE: die } }).start();
  await p.join();
  return p.exitCode;
}

describe('a SharedQueue whose process dies inside a put or a get (memory shared between processes)', { skip: inMemory ? false : 'the queue crosses as a proxy without the native part' }, () => {
  it('a put killed before its commit is undone: the items before it stay, in order, and the ring keeps every byte', { timeout: 60_000 }, async () => {
    const q = new SharedQueue<number>({ capacityBytes: CAPACITY });
    const code = await runDying('put:3', shmTasks.queuePuts, [q, 5]);
    assert.equal(code, -9, 'the seam killed the child in its third put');
    const expected = [0, 1];
    assert.equal(q.qsize(), expected.length);
    q.putNowait(99); // takes the dead holder's lock over, and repairs
    locksFree(q);
    const got: number[] = [];
    while (!q.empty()) got.push(q.getNowait());
    assert.deepEqual(got, [...expected, 99]);
    assert.equal(fill(q), Math.floor(CAPACITY / RECORD), 'no byte of the ring was lost');
    assert.equal(q._unfinished(), expected.length + 1 + Math.floor(CAPACITY / RECORD));
  });

  it('a get killed before its commit is undone: the item stays for the next getter', { timeout: 60_000 }, async () => {
    const q = new SharedQueue<number>({ capacityBytes: CAPACITY });
    for (let i = 0; i < 4; i++) q.putNowait(i);
    const code = await runDying('get:2', shmTasks.queueGets, [q, 3]);
    assert.equal(code, -9);
    assert.deepEqual([q.getNowait(), q.getNowait(), q.getNowait()], [1, 2, 3], 'item 1, which the child died taking, is still here');
    locksFree(q);
    assert.throws(() => q.getNowait(), /empty/);
    for (let i = 0; i < 3; i++) q.taskDone();
    assert.equal(q._unfinished(), 1, 'item 0, in the dead hand, and nothing more');
    assert.equal(fill(q), Math.floor(CAPACITY / RECORD), 'no byte of the ring was lost');
  });

  it('a get killed after its commit is finished: the item went with the child, and its bytes come back', { timeout: 60_000 }, async () => {
    const q = new SharedQueue<number>({ capacityBytes: CAPACITY });
    for (let i = 0; i < 4; i++) q.putNowait(i);
    const code = await runDying('got:2', shmTasks.queueGets, [q, 3]);
    assert.equal(code, -9);
    assert.deepEqual([q.getNowait(), q.getNowait()], [2, 3]);
    locksFree(q);
    for (let i = 0; i < 2; i++) q.taskDone();
    assert.equal(q._unfinished(), 2, 'items 0 and 1, in the dead hand');
    assert.equal(fill(q), Math.floor(CAPACITY / RECORD), 'no byte of the ring was lost');
  });

  it('a get killed while it writes its journal leaves the next getter a journal it reads right: no byte counted free that an item holds', { timeout: 60_000 }, async () => {
    const q = new SharedQueue<number>({ capacityBytes: CAPACITY });
    for (let i = 0; i < 4; i++) q.putNowait(i);
    const code = await runDying('journal:2', shmTasks.queueGets, [q, 3]);
    assert.equal(code, -9, 'the seam killed the child writing the journal of its second get');
    assert.equal(q.getNowait(), 1, 'item 1, which the child died taking, is still here');
    locksFree(q);
    // Items 2 and 3 hold their bytes: a fill that overran them would overwrite item 2.
    const room = fill(q);
    const got: number[] = [];
    while (!q.empty()) got.push(q.getNowait());
    assert.deepEqual(got.slice(0, 2), [2, 3], 'items 2 and 3 are intact');
    assert.equal(room, Math.floor(CAPACITY / RECORD) - 2, 'the ring held exactly the room it had');
  });

  it('a worker thread takes a dead process\'s lock over, as the main thread does (its sleeps are shorter slices)', { timeout: 60_000 }, async () => {
    const q = new SharedQueue<number>({ capacityBytes: CAPACITY });
    const code = await runDying('put:2', shmTasks.queuePuts, [q, 3]);
    assert.equal(code, -9);
    const progress = new SharedArray('i32', 3);
    const t = new Thread({ target: shmTasks.queuePutLoop as never, args: [q, 0, 1, progress] }).start();
    // Timed from the worker's first put: its start alone took seconds at load 30.
    while (Atomics.load(progress.array as Int32Array, 1) === 0 && t.isAlive()) await delay(5);
    await t.join(10_000);
    const alive = t.isAlive();
    if (alive) Atomics.store(q._header, 0, 0); // lets the stuck worker through, so that the test ends
    await t.join();
    assert.equal(alive, false, 'the worker was still waiting on the dead holder\'s lock after 10 s');
    assert.deepEqual([q.getNowait(), q.getNowait()], [0, 0]);
    locksFree(q);
  });

  it('an immediate shutdown killed before its drop is done is finished by a joiner: join() returns, nothing is left to get', { timeout: 60_000 }, async () => {
    const q = new SharedQueue<number>({ capacityBytes: CAPACITY });
    for (let i = 0; i < 3; i++) q.putNowait(i);
    // Killed with the drop's journal begun: SHUTDOWN says immediate, the items are still counted held.
    const code = await runDying('journal:1', shmTasks.queueShutdownNow, [q]);
    assert.equal(code, -9);
    assert.equal(q.qsize(), 3);
    // Without a getter to take the getters' lock, only the joiner can finish the drop.
    await joinsWithin(q, 10_000);
    assert.equal(q.qsize(), 0);
    assert.throws(() => q.getNowait(), /shut-down/);
    assert.throws(() => q.putNowait(9), /shut-down/);
    locksFree(q);
  });

  it('a getter asleep in another process is woken by the put after the repair', { timeout: 60_000 }, async () => {
    const q = new SharedQueue<number>({ capacityBytes: CAPACITY });
    const getter = new Process({ target: shmTasks.queueGets as never, args: [q, 2] }).start();
    const code = await runDying('put:2', shmTasks.queuePuts, [q, 3]);
    assert.equal(code, -9);
    q.putNowait(7);
    await getter.join();
    assert.equal(getter.exitCode, 0);
    locksFree(q);
    assert.equal(q.qsize(), 0);
  });
});
