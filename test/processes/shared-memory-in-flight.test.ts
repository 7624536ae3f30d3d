// A primitive in shared memory on its way to a process-pool task (src/sync/shm-crossing.ts):
// the worker maps its region through /proc/<submitter>/fd, so the submitter must hold the
// region open until the task has it, even when the caller kept no reference to the
// primitive. And a task whose argument cannot be mapped fails by itself; its worker does
// not die over it (the pool would requeue the task to worker after worker).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Event, Lock, ProcessPoolExecutor, SharedQueue, Value, type Future } from '../../src/index.js';
import { native } from '../../src/sync/shm.js';
import { shmTasks } from '../fixtures/shm-tasks.js';
import { regionOf, stillOpenAfterGc } from '../fixtures/region-watch.js';

const inMemory = native !== undefined;

describe('a primitive in shared memory on its way to a pool task', { skip: inMemory ? false : 'primitives cross as proxies without the native part' }, () => {
  it('is still there when the worker gets to the task, though the submitter dropped it', { timeout: 60_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const go = new Event();
    // The one worker is busy until `go`: the next task waits its turn, its queue dropped here.
    const busy = pool.submit(shmTasks.count, new Lock(), new Value('i32', 0), go, 0);
    const send = (): { task: Future<number[]>; region: { fd: number; ino: number } } => {
      const q = new SharedQueue<number>(); // its 1 MiB ring is a region of its own
      q.putNowait(1);
      q.putNowait(2);
      return { task: pool.submit(shmTasks.queueGets, q, 2), region: regionOf(q._ring.buffer) };
    };
    const { task, region } = send();
    // Collected, its region would be unmapped and its descriptor closed: give the GC every chance.
    const stillOpen = await stillOpenAfterGc(region);
    go.set();
    await busy.result();
    assert.deepEqual(await task.result(), [1, 2]);
    assert.equal(stillOpen, true, "the queue's region was closed while its task waited for the worker");
  });

  it('that cannot be mapped fails its task with the reason, and the worker goes on', { timeout: 60_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    // What a Lock crosses as, naming a descriptor this process does not have.
    const ghost = { __concurShared: 'Lock', _state: { $shmView: 'Int32Array', pid: process.pid, fd: 99_999, ino: 1, size: 4096, byteOffset: 0, length: 1 } };
    const before = await pool.submit(shmTasks.pid).result();
    await assert.rejects(pool.submit(shmTasks.regionsHere, ghost as unknown as Lock).result(), /cannot map the shared memory/);
    assert.equal(await pool.submit(shmTasks.pid).result(), before, 'the same worker ran the next task');
  });
});
