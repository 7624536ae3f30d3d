// Primitives in shared memory between processes whose processes die (src/sync/shm.ts,
// owner.ts): a holder SIGKILLed is taken over, children killed at random leave nothing
// behind, and a region received from a child lives while it is referred to here and no
// longer. Apart from shared-memory.test.ts, which with these took 126 s of the runner's
// 120 s per file at load 34. Under CONCUR_NO_NATIVE=1 (npm test runs this file that way
// too) the same programs run on owner-served proxies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Event, Lock, Process, RLock, Value, sleep } from '../../src/index.js';
import { native } from '../../src/sync/shm.js';
import { pipe, regionFds, regionInodes, shmTasks } from '../fixtures/shm-tasks.js';

const inMemory = native !== undefined;

describe('primitives in shared memory between processes whose processes die', () => {
  for (const Kind of [Lock, RLock]) {
    it(`a ${Kind.name} whose holder process was SIGKILLed is taken over, and the taker is told (ownerDied)`, { timeout: 60_000 }, async () => {
      const lock = new Kind();
      const ready = new Event();
      const p = new Process({ target: shmTasks.holdAndDie, args: [lock, ready] }).start();
      await p.join();
      assert.equal(p.exitCode, -9);
      assert.equal(ready.isSet(), true);
      assert.equal(await lock.acquire({ timeout: 10_000 }), true, 'the dead holder does not wedge the lock');
      // In memory the taker finds the holder dead; through a proxy the owner finds the
      // holder's connection gone and leaves the lock to be taken over: told either way.
      assert.equal(lock.ownerDied, true);
      lock.release();
      assert.equal(lock.ownerDied, false);
      assert.equal(lock.acquireSync({ timeout: 1000 }), true);
      lock.release();
    });
  }

  it('a Lock made in a child and sent down a Pipe is the same memory here; its holder exiting frees it', { timeout: 60_000 }, async () => {
    const [here, there] = pipe();
    const p = new Process({ target: shmTasks.makeAndSend, args: [there] }).start();
    const lock = (await here.recv()) as Lock;
    assert.equal(lock.locked(), true, 'held by the child');
    if (inMemory) assert.equal(lock.constructor.name, 'Lock');
    here.close();
    await p.join();
    assert.equal(p.exitCode, 0);
    if (!inMemory) {
      // A proxy's owner is gone with its process: so is the Lock.
      await assert.rejects(lock.acquire({ timeout: 10_000 }), /has exited|cannot reach/);
      return;
    }
    assert.equal(await lock.acquire({ timeout: 10_000 }), true);
    lock.release();
  });

  it('children SIGKILLed at random points leave the Lock usable and no region behind', { timeout: 120_000 }, async () => {
    const before = regionFds();
    const lock = new Lock();
    const v = new Value('i32', 0);
    const go = new Event();
    const kids = Array.from({ length: 4 }, () => new Process({ target: shmTasks.count, args: [lock, v, go, 10_000_000] }).start());
    go.set();
    for (const k of kids) {
      await sleep(Math.floor(Math.random() * 300));
      k.kill();
    }
    for (const k of kids) await k.join();
    assert.deepEqual(kids.map((k) => k.exitCode), [-9, -9, -9, -9]);
    for (const k of kids) assert.throws(() => regionFds(k.pid!), /ENOENT/, 'the child is gone, and its descriptors with it');
    assert.equal(lock.acquireSync({ timeout: 10_000 }), true, 'the Lock recovers from whichever child died holding it');
    const counted = v.value;
    v.value = counted + 1;
    assert.equal(v.value, counted + 1);
    lock.release();
    // At most the one slab these primitives were made in is new here.
    assert.ok(regionFds() <= before + 1, `regions held here: ${before} before, ${regionFds()} after`);
  });

  it('regions received from children are unmapped and closed once nothing here refers to them (none at all without the native part)', { timeout: 120_000 }, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let received: Lock[] = [];
    const children = inMemory ? 5 : 2;
    for (let i = 0; i < children; i++) {
      const [here, there] = pipe();
      const p = new Process({ target: shmTasks.makeAndSend, args: [there] }).start();
      received.push((await here.recv()) as Lock);
      assert.equal(received[i]!.locked(), true);
      here.close();
      await p.join();
      assert.equal(p.exitCode, 0);
    }
    if (!inMemory) return assert.equal(regionFds(), 0, 'no region without the native part');
    const inodes = new Set(received.map((l) => statSync(`/proc/self/fd/${native!.regionOf(l._state.buffer as SharedArrayBuffer)![0]}`).ino));
    assert.equal(inodes.size, children, "each child's slab is mapped here once");
    const held = (): number => [...regionInodes()].filter((ino) => inodes.has(ino)).length;
    assert.equal(held(), children);
    received = [];
    for (let i = 0; i < 200 && held() > 0; i++) {
      gc();
      await sleep(20);
    }
    assert.equal(held(), 0, 'every received region was unmapped and closed');
  });
});

describe("owner ids once a long-running program has started more than the tree's table holds", { skip: inMemory ? false : 'owner ids are thread ids without the native part' }, () => {
  // Last in this file: it fills the table (every later thread and process here takes a slot again).
  it('a process still starts, taking the slot of a dead one; a Lock that dead one held is still taken over', { timeout: 60_000 }, async () => {
    const MAX_IDS = 1 << 20;
    const [pid, fd, ino, size] = process.env.CONCUR_SHM_TREE!.split(':').map(Number) as [number, number, number, number];
    const tree = new Int32Array(native!.openRegion(pid, fd, ino, size));
    const lock = new Lock();
    const deadId = new Value('i32', 0);
    const a = new Process({ target: shmTasks.idHoldAndDie, args: [deadId, lock] }).start();
    await a.join();
    assert.equal(a.exitCode, -9);
    assert.equal(lock.locked(), true, 'the dead one held it');
    // A million processes and threads later (each took a slot, most are gone long since):
    Atomics.store(tree, 0, MAX_IDS);
    Atomics.store(tree, 1, (deadId.value % MAX_IDS) - 1); // the search for a free slot comes to the dead one's first
    const newId = new Value('i32', 0);
    const ready = new Event();
    const done = new Event();
    const b = new Process({ target: shmTasks.ownerIdThenWait, args: [newId, ready, done] }).start();
    try {
      await Promise.race([ready.wait(30_000), b.join()]);
      assert.equal(b.exitCode, null, 'the process started');
      assert.equal(ready.isSet(), true);
      assert.equal(newId.value % MAX_IDS, deadId.value % MAX_IDS, "it took the dead one's slot");
      assert.notEqual(newId.value, deadId.value, 'under another id');
      assert.equal(await lock.acquire({ timeout: 10_000 }), true, 'the dead holder is not mistaken for the one alive in its slot');
      assert.equal(lock.ownerDied, true);
      lock.release();
    } finally {
      done.set();
      await b.join();
    }
    assert.equal(b.exitCode, 0);
  });
});
