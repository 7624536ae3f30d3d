// Lanes with shared memory: calls and answers go through a region both sides poll, and
// the FIFOs carry only rings for a side that sleeps. The race to test is the one of
// any doorbell: an answer published, then a pause (a preempted owner) before it looks
// whether the caller sleeps, while the caller makes its next call and goes to sleep.
// The ring that pause sends belongs to the new call's sleep, not the old answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager, Pipe, Process, type Connection, type DictProxy } from '../../src/index.js';
import { _lanesInMemory } from '../../src/proxy/client.js';
import { native } from '../../src/sync/shm.js';
import { laneTasks, laneTortureTasks } from '../fixtures/lane-tasks.js';

const here = process.platform === 'linux' && native !== undefined && process.env.CONCUR_PROXY_LANES !== '0';

describe('lanes with shared memory', { skip: !here && 'lanes with memory need Linux and the native part' }, () => {
  let m: Manager;
  before(async () => {
    // The server stalls after every 16th answer, between publishing it and looking for a sleeper.
    process.env.CONCUR_TEST_LANE_RACE = '1';
    try {
      m = await Manager.start();
    } finally {
      delete process.env.CONCUR_TEST_LANE_RACE;
    }
  });
  after(() => m.shutdown());

  it('an answer whose ring comes late never strands the next call', { timeout: 60_000 }, async () => {
    // In a child, so that a call stranded for good fails this test rather than blocking the file.
    const d = m.dict<number>();
    const p = new Process({ target: laneTasks.countUp, args: [d, 'k', 4000] }).start();
    await p.join(30_000);
    if (p.exitCode === null) p.kill();
    assert.equal(p.exitCode, 0, `the child is stuck at ${d.get('k')} of 4000`);
    for (let i = 0; i < 2000; i++) {
      d.set('k', i);
      assert.equal(d.get('k'), i);
    }
    assert.equal(_lanesInMemory(), 1);
  });

  it('calls and answers too large for the memory, and answers that give back what they carry, go by FIFO in turn', { timeout: 60_000 }, async () => {
    const d = m.dict<unknown>();
    const q = m.queue<number>();
    const big = 'y'.repeat(100_000);
    for (let i = 0; i < 300; i++) {
      d.set('small', i);
      if (i % 3 === 0) d.set('big', big + i);
      q.putSync(i);
      assert.equal(q.getSync(), i);
      if (i % 3 === 0) assert.equal(d.get('big'), big + i);
      assert.equal(d.get('small'), i);
    }
    assert.equal(_lanesInMemory(), 1);
  });

  it('child processes calling at once each keep their own turn', { timeout: 60_000 }, async () => {
    const d = m.dict<number>();
    const procs = [0, 1, 2].map((k) => new Process({ target: laneTasks.countUp, args: [d, `c${k}`, 3000] }).start());
    await Promise.all(procs.map((p) => p.join()));
    assert.deepEqual(procs.map((p) => p.exitCode), [0, 0, 0]);
    assert.deepEqual([0, 1, 2].map((k) => d.get(`c${k}`)), [3000, 3000, 3000]);
  });

  it('answers produced later (a lock waited for) and stalled answers, between children that contend: none strands a call, no increment is lost', { timeout: 60_000 }, async () => {
    const d = m.dict<number>({ count: 0 });
    const lock = m.lock();
    const ev = m.event();
    const kids = [0, 1, 2].map((slot) => {
      const [here, there] = Pipe();
      const p = new Process({ target: laneTortureTasks.churn, args: [d as DictProxy<unknown>, lock, ev, slot, 1000 + slot, 3000, there] }).start();
      return { p, here: here as Connection };
    });
    let increments = 0;
    for (const k of kids) {
      assert.deepEqual(await k.here.recv(), { started: 1 });
      const r = (await k.here.recv()) as { bad?: number; increments?: number; error?: string; message?: string };
      assert.equal(r.error, undefined, r.message);
      assert.equal(r.bad, 0);
      increments += r.increments!;
      await k.p.join();
    }
    assert.equal(d.get('count'), increments);
  });
});
