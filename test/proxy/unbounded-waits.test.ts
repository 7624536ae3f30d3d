// Issue 10 item 3 (the proxy part): a blocked proxy call never sleeps without bound. A
// dead owner or a dead helper thread fails the call with an error that says so.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EOFError, Pipe, Process, ThreadPoolExecutor, type Event, type Lock } from '../../src/index.js';
import { helperTasks } from '../fixtures/proxy-tasks.js';
import { remote } from '../fixtures/remote-tasks.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// This file tests the owner-served proxy: its primitives cross as proxies even where they could cross as memory.
_crossAsProxies(true);

/** A child that owns a held Lock, an Event and a SharedQueue, and hands their proxies here. */
async function anOwner(): Promise<{ owner: Process<never[]>; lock: Lock; event: Event }> {
  const [here, there] = Pipe();
  const owner = new Process({ target: remote.shareAndHang, args: [there], daemon: true }).start() as unknown as Process<never[]>;
  const lock = (await here.recv()) as Lock;
  const event = (await here.recv()) as Event;
  await here.recv();
  return { owner, lock, event };
}

describe('a blocked proxy call ends when what it waits for cannot answer', () => {
  it('its helper thread dies: the blocked call fails saying so, and the next call starts a new helper', { timeout: 120_000 }, async () => {
    const { owner, event } = await anOwner();
    try {
      await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
      const seen = await pool.submitWith({ timeout: 90_000 }, helperTasks.callAcrossAHelperCrash, event);
      assert.equal(seen[0], 'first: false');
      assert.match(seen[1]!, /^second: Error: .*helper thread exited/, seen[1]);
      assert.equal(seen[2], 'third: false');
    } finally {
      owner.kill();
      await owner.join();
    }
  });

  it('its owner is SIGKILLed while a thread is blocked in acquireSync: EOFError naming the owner', { timeout: 120_000 }, async () => {
    const { owner, lock } = await anOwner();
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const blocked = pool.submitWith({ timeout: 90_000 }, helperTasks.blockOnLock, lock);
    await new Promise((resolve) => setTimeout(resolve, 500)); // not needed for correctness: either way the call fails
    owner.kill();
    await owner.join();
    const outcome = await blocked;
    assert.match(outcome, new RegExp(`^${EOFError.name}: .*pid ${owner.pid}`), outcome);
  });
});
