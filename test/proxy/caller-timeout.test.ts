// Issue 11 item 3 (and issue 10 item 3): a proxy call with a timeout ends by its own
// deadline even when the owner cannot answer (SIGSTOPped); what the owner grants late
// is given back, so no permit and no item goes missing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Empty, Lock, Pipe, Process, ProcessPoolExecutor, Semaphore, SharedQueue } from '../../src/index.js';
import { toProxy } from '../../src/proxy/proxies.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';
import { stopProcess } from '../fixtures/stop.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// This file tests the owner-served proxy: its primitives cross as proxies even where they could cross as memory.
_crossAsProxies(true);

/** The call's own timeout, the caller's grace for the owner's answer, and slack for a loaded machine. */
const BOUND_MS = (timeout: number): number => timeout + 1000 + 4000;

/** The call's outcome; fails (naming `what`) if it has not settled after `ms`, so a hang fails by name. */
async function within<T>(what: string, ms: number, call: Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = call.then(
    (value) => ({ value, ms: performance.now() - start }),
    (error: unknown) => ({ error, ms: performance.now() - start }),
  );
  const late = new Promise<'no answer'>((resolve) => (timer = setTimeout(() => resolve('no answer'), ms)));
  try {
    const r = await Promise.race([outcome, late]);
    if (r === 'no answer') assert.fail(`${what} had not returned after ${ms} ms`);
    return r;
  } finally {
    clearTimeout(timer);
  }
}

describe("a proxy call's own timeout, with the owner stopped", () => {
  it('acquire and get return by their deadline; the late grants are given back after SIGCONT', { timeout: 180_000 }, async () => {
    const [here, there] = Pipe();
    const owner = new Process({ target: proxyTasks.shareFreeThings, args: [there], daemon: true }).start();
    try {
      const lock = (await here.recv()) as Lock;
      const queue = (await here.recv()) as SharedQueue<string>;
      const sem = (await here.recv()) as Semaphore;
      assert.equal(sem.value, 0, 'connected to the owner');
      await stopProcess(owner.pid!);

      const acquired = await within('acquire({ timeout: 500 })', BOUND_MS(500), lock.acquire({ timeout: 500 }));
      assert.equal(acquired.value, false);
      assert.ok(acquired.ms >= 450, `it waited its timeout (${acquired.ms} ms)`);

      const got = await within('get({ timeout: 300 })', BOUND_MS(300), queue.get({ timeout: 300 }));
      assert.ok(got.error instanceof Empty, `get failed with Empty (${String(got.error)})`);

      const tried = await within('acquire({ blocking: false })', BOUND_MS(0), lock.acquire({ blocking: false }));
      assert.equal(tried.value, false);

      const semTried = await within('a Semaphore acquire({ timeout: 200 })', BOUND_MS(200), sem.acquire({ timeout: 200 }));
      assert.equal(semTried.value, false);

      process.kill(owner.pid!, 'SIGCONT');
      // The owner now grants the abandoned calls; each grant comes back and is given back.
      assert.equal(await lock.acquire({ timeout: 10_000 }), true, 'the lock granted late was given back');
      lock.release();
      assert.equal(await queue.get({ timeout: 10_000 }), 'the item', 'the item taken late was put back');
      queue.taskDone();
      // The item put back is counted once: join returns after one taskDone.
      await within('join()', 10_000, queue.join());
      assert.equal(queue.qsize(), 0);
      // One permit now exists: the one released here (a late grant of it is given back).
      sem.release();
      assert.equal(await sem.acquire({ timeout: 10_000 }), true, 'the released permit is there');
      assert.equal(sem.value, 0, 'and no other permit appeared');
    } finally {
      process.kill(owner.pid!, 'SIGCONT');
      owner.kill();
      await owner.join();
    }
  });

  it('a timeout past 2^31-1 ms is honoured: the caller does not give up at once', { timeout: 60_000 }, async () => {
    const lock = new Lock();
    const proxy = toProxy(lock); // a proxy of this process's own lock, served by its broker
    lock.acquireSync();
    let settled = false;
    const waiting = proxy.acquire({ timeout: 3e9 }).finally(() => (settled = true));
    // Still waiting well past the moment a clamped timer would have fired (1 ms).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(settled, false, 'the acquire is still waiting');
    lock.release();
    assert.equal(await waiting, true);
    proxy.release();
  });

  it('acquireSync({ timeout }) in another process returns by its deadline while the owner is stopped', { timeout: 180_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const [here, there] = Pipe();
    const owner = new Process({ target: proxyTasks.shareFreeThings, args: [there], daemon: true }).start();
    try {
      const lock = (await here.recv()) as Lock;
      await here.recv();
      const sem = (await here.recv()) as Semaphore;
      // The worker connects to the owner first, then the owner stops.
      assert.equal(await pool.submit(proxyTasks.semaphoreValue, sem), 0);
      await stopProcess(owner.pid!);
      const start = performance.now();
      const result = await within('acquireSync({ timeout: 300 }) in a worker', BOUND_MS(300), pool.submit(proxyTasks.tryLockSync, lock, 300));
      assert.equal(result.value, false, `acquireSync gave up (after ${Math.round(result.ms)} ms)`);
      assert.ok(result.ms >= 300, `it waited its timeout (${Math.round(result.ms)} ms)`);
      assert.ok(performance.now() - start < BOUND_MS(300));
      process.kill(owner.pid!, 'SIGCONT');
      assert.equal(await lock.acquire({ timeout: 10_000 }), true, 'the late grant was given back');
    } finally {
      process.kill(owner.pid!, 'SIGCONT');
      owner.kill();
      await owner.join();
    }
  });
});
