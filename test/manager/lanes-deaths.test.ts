// Lanes under load and under deaths: many clients at once through their lanes, a client
// SIGKILLed inside a call through its lane, a server SIGKILLed under a blocked one. (From
// test/manager/lanes.test.ts, which had grown past the runner's 120 s a file on a loaded
// machine.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EOFError, Manager, Pipe, Process, sleep } from '../../src/index.js';
import { laneTasks } from '../fixtures/lane-tasks.js';

const lanesHere = process.platform === 'linux' && process.env.CONCUR_PROXY_LANES !== '0';

describe('manager lanes: many clients, and a client that dies', { skip: !lanesHere && 'lanes are for Linux' }, () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
  });
  after(() => m.shutdown());

  it('many clients at once, each checking every answer', { timeout: 120_000 }, async () => {
    const d = m.dict<number>();
    const pipes = Array.from({ length: 6 }, () => Pipe());
    const clients = pipes.map(([, there], i) => new Process({ target: laneTasks.hammer, args: [d, `k${i}`, 3000, there] }).start());
    for (const [here] of pipes) assert.deepEqual(await here.recv(), { mismatches: 0, lanes: 1 });
    await Promise.all(clients.map((p) => p.join()));
    for (let i = 0; i < 6; i++) assert.equal(d.get(`k${i}`), 2999);
  });

  it('a client SIGKILLed in a get through its lane loses no item; one holding a lock through its lane has it released', { timeout: 60_000 }, async () => {
    const q = m.queue<number>();
    const d = m.dict<number>();
    const ready = m.event();
    const getter = new Process({ target: laneTasks.blockInGet, args: [d, ready, q] }).start();
    assert.equal(await ready.wait(30_000), true);
    assert.equal(d.get('lanes'), 1);
    await sleep(100); // the get is waiting in the server
    getter.kill();
    await getter.join();
    q.putSync(7);
    assert.equal(await q.get({ timeout: 5_000 }), 7);

    const lock = m.lock();
    ready.clear();
    const holder = new Process({ target: laneTasks.holdThroughLane, args: [d, ready, lock] }).start();
    assert.equal(await ready.wait(30_000), true);
    assert.equal(d.get('lanes'), 1);
    assert.equal(lock.locked(), true);
    holder.kill();
    await holder.join();
    const seenAt = performance.now();
    assert.equal(await lock.acquire({ timeout: 5_000 }), true);
    assert.ok(performance.now() - seenAt < 1_000, 'released within a second of the death');
    lock.release();
  });
});

describe('a manager that dies under lanes', { skip: !lanesHere && 'lanes are for Linux' }, () => {
  it('a client blocked in a call through its lane gets EOFError as soon as the server is SIGKILLed', { timeout: 60_000 }, async () => {
    const m = await Manager.start();
    const d = m.dict<number>();
    const ready = m.event();
    const never = m.event();
    const [here, there] = Pipe();
    const p = new Process({ target: laneTasks.blockUntilServerDies, args: [d, ready, never, there] }).start();
    assert.equal(await ready.wait(30_000), true);
    await sleep(100); // the wait is in the server
    const killedAt = Date.now();
    process.kill(m.pid, 'SIGKILL');
    const r = (await here.recv()) as { lanes: number; name: string; message: string; at: number };
    await p.join();
    assert.equal(r.lanes, 1);
    assert.equal(r.name, 'EOFError', r.message);
    assert.match(r.message, /\(pid \d+\) has exited/);
    console.log(`# the blocked client had its EOFError ${r.at - killedAt} ms after the kill`);
    // Measured in the client, against this process's kill: within 100 ms on an idle machine.
    assert.ok(r.at - killedAt < 1_000, `EOFError ${r.at - killedAt} ms after the kill`);
    assert.throws(() => d.get('x'), EOFError);
    await m.shutdown();
  });
});
