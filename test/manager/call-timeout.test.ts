// A container call to a manager that is alive but stalled (SIGSTOP, or busy in a
// registered method) ends with a TimeoutError after the proxy's callTimeout, whether
// it went through a lane (in memory or by FIFO alone) or the helper thread; the next
// call after the server runs again works, and nothing else was lost. A late answer
// racing the deadline is either returned or dropped, never given to another call.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Manager, Pipe, Process, sleep, Thread } from '../../src/index.js';
import { _lanesInMemory, _lanesOpen } from '../../src/proxy/client.js';
import { native } from '../../src/sync/shm.js';
import { callTimeoutTasks, outcome, type Outcome } from '../fixtures/call-timeout-tasks.js';
import { stopProcess } from '../fixtures/stop.js';

const lanesHere = process.platform === 'linux' && process.env.CONCUR_PROXY_LANES !== '0';
const authkey = 'call-timeout tests';

/** A server-side object that holds the server's thread: block(ms) once, or churn(maxMs) in random bursts until calm(). */
const stallFactory = () => {
  let timer: ReturnType<typeof setInterval> | undefined;
  const busy = (ms: number): void => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  };
  return {
    block(ms: number): boolean {
      busy(ms);
      return true;
    },
    churn(maxMs: number): boolean {
      timer = setInterval(() => busy(Math.random() * maxMs), 1);
      return true;
    },
    calm(): boolean {
      clearInterval(timer);
      return true;
    },
  };
};
type Stall = { block(ms: number): boolean; churn(maxMs: number): boolean; calm(): boolean };

/**
 * If the call under test hangs (the bug), this thread cannot end it: a thread of its
 * own sends SIGCONT after `ms`, so the test fails on its assertions instead of hanging.
 */
function guard(pid: number, ms = 15_000): () => void {
  const w = new Worker(
    `const { pid, ms } = require('node:worker_threads').workerData;
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
     try { process.kill(pid, 'SIGCONT'); } catch {}`,
    { eval: true, workerData: { pid, ms } },
  );
  w.unref();
  return () => void w.terminate();
}

/** The same proxy with another callTimeout (as a Manager.connect of its own would hand out). */
function within<T extends object>(proxy: T, ms: number): T {
  const ref = (proxy as { _ref: object })._ref;
  return new (proxy.constructor as new (ref: object) => T)({ ...ref, callTimeout: ms });
}

function assertTimedOut(r: Outcome, ms: number, pid: number, op = 'get'): void {
  assert.equal(r.name, 'TimeoutError', `${r.name}: ${r.message}`);
  assert.match(r.message!, new RegExp(`pid ${pid}\\b`));
  assert.match(r.message!, new RegExp(`${op}\\(\\) within ${ms} ms`));
  assert.match(r.message!, /may still take effect/);
  assert.ok(r.took >= ms - 1, `timed out after ${r.took} ms, before its ${ms} ms`);
}

describe('a callTimeout for container calls', () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start({ authkey, callTimeout: 500 });
  });
  after(() => m.shutdown());

  it('Manager.start and Manager.connect check it; proxies carry it, and take on a connected handle’s', async () => {
    await assert.rejects(Manager.start({ callTimeout: 0 }), RangeError);
    await assert.rejects(Manager.start({ callTimeout: -5 }), RangeError);
    await assert.rejects(Manager.connect({ address: m.address, authkey, callTimeout: NaN }), RangeError);
    const d = m.dict<unknown>();
    assert.equal((d as unknown as { _ref: { callTimeout: number } })._ref.callTimeout, 500);
    const c = await Manager.connect({ address: m.address, authkey, callTimeout: 250 });
    const cd = c.dict<unknown>();
    cd.set('inner', m.list());
    const inner = cd.get('inner') as object;
    assert.equal((cd as unknown as { _ref: { callTimeout: number } })._ref.callTimeout, 250);
    assert.equal((inner as { _ref: { callTimeout: number } })._ref.callTimeout, 250);
    const dflt = await Manager.connect({ address: m.address, authkey });
    assert.equal((dflt.dict() as unknown as { _ref: { callTimeout: number } })._ref.callTimeout, 500);
    const forever = await Manager.start({ callTimeout: Infinity });
    try {
      const f = forever.dict<number>({ a: 1 });
      assert.equal(f.get('a'), 1);
      assert.equal((f as unknown as { _ref: { callTimeout: number } })._ref.callTimeout, Infinity);
    } finally {
      await forever.shutdown();
    }
  });

  it('(a) SIGSTOP after the lane opened: a main thread’s call times out with the message; after SIGCONT the next works and the writes are there', { timeout: 60_000, skip: !lanesHere && 'lanes are for Linux' }, async () => {
    const d = m.dict<number>();
    const open = _lanesOpen();
    const inMemory = _lanesInMemory();
    for (let i = 0; i < 20; i++) d.set(`k${i}`, i);
    assert.equal(_lanesOpen(), open + 1, 'the lane opened');
    if (native !== undefined && process.env.CONCUR_LANE_MEMORY !== '0') assert.equal(_lanesInMemory(), inMemory + 1, 'in memory');
    await stopProcess(m.pid);
    const release = guard(m.pid);
    let r: Outcome;
    try {
      r = outcome(() => d.get('k1'));
    } finally {
      release();
      process.kill(m.pid, 'SIGCONT');
    }
    assertTimedOut(r, 500, m.pid);
    assert.ok(r.took < 10_000, `took ${r.took} ms`);
    console.log(`# timed out after ${r.took.toFixed(0)} ms (callTimeout 500)`);
    assert.deepEqual(Array.from({ length: 20 }, (_, i) => d.get(`k${i}`)), Array.from({ length: 20 }, (_, i) => i));
    assert.equal(d.size, 20);
    assert.equal(_lanesOpen(), open + 1, 'another lane opened after as many calls');
  });

  it('(a) a call too long for the FIFO to take whole, to a stopped server, times out too (it goes through the helper); the lane stays', { timeout: 60_000, skip: !lanesHere && 'lanes are for Linux' }, async () => {
    const d = m.dict<string>();
    for (let i = 0; i < 20; i++) d.get('warm');
    const open = _lanesOpen(); // this manager's among them
    assert.ok(open >= 1);
    const big = 'x'.repeat(200_000);
    d.set('big', big);
    assert.equal(d.get('big'), big);
    await stopProcess(m.pid);
    const release = guard(m.pid);
    let r: Outcome;
    try {
      r = outcome(() => d.set('big2', big));
    } finally {
      release();
      process.kill(m.pid, 'SIGCONT');
    }
    assertTimedOut(r, 500, m.pid, 'set');
    assert.equal(d.get('big'), big);
    assert.equal(_lanesOpen(), open, 'the lane was not closed');
  });

  for (const [what, env] of [
    ['in memory', {}],
    ['by FIFO alone (CONCUR_LANE_MEMORY=0)', { CONCUR_LANE_MEMORY: '0' }],
    ['without the native part (CONCUR_NO_NATIVE=1)', { CONCUR_NO_NATIVE: '1' }],
  ] as const) {
    it(`(b) the same in a child process whose lane goes ${what}`, { timeout: 60_000, skip: !lanesHere && 'lanes are for Linux' }, async () => {
      const d = m.dict<number>();
      const [here, there] = Pipe();
      Object.assign(process.env, env);
      let p: Process<any>;
      try {
        p = new Process({ target: callTimeoutTasks.stalledCalls, args: [d, there] }).start();
      } finally {
        for (const k of Object.keys(env)) delete process.env[k];
      }
      assert.ok(await here.poll(30_000), 'the child warmed up');
      const lanes = (await here.recv()) as { lanes: number; inMemory: number };
      assert.equal(lanes.lanes, 1);
      assert.equal(lanes.inMemory, what === 'in memory' && native !== undefined ? 1 : 0);
      await stopProcess(m.pid);
      let r: Outcome;
      try {
        here.send('go');
        assert.ok(await here.poll(15_000), 'the stalled call ended');
        r = (await here.recv()) as Outcome;
      } finally {
        process.kill(m.pid, 'SIGCONT');
      }
      assertTimedOut(r, 500, m.pid);
      here.send('again');
      assert.ok(await here.poll(30_000));
      const again = (await here.recv()) as { back: Outcome; lanes: number };
      assert.deepEqual(again.back.value, Array.from({ length: 20 }, (_, i) => i), again.back.message);
      assert.equal(again.lanes, 1, 'another lane opened');
      await p.join();
      assert.equal(p.exitCode, 0);
    });
  }

  it('(c) a registered method holding the server for 2 s: another client’s dict call times out after 300 ms', { timeout: 60_000 }, async () => {
    const m3 = await Manager.start({ authkey, callTimeout: 300 });
    try {
      m3.register('stall', stallFactory);
      const stall = m3.create<Stall>('stall');
      const d = m3.dict<number>({ k: 7 });
      for (let i = 0; i < 20; i++) d.get('k');
      const blocker = new Process({ target: callTimeoutTasks.blockServer, args: [stall, 2_000] }).start();
      let r: Outcome | undefined;
      const until = performance.now() + 20_000;
      while (performance.now() < until) {
        r = outcome(() => d.get('k'));
        if (r.name !== undefined) break;
        assert.equal(r.value, 7);
      }
      assert.ok(r !== undefined);
      assertTimedOut(r, 300, m3.pid);
      assert.ok(r.took < 1_900, `timed out after ${r.took} ms: not before the method ended`);
      console.log(`# timed out after ${r.took.toFixed(0)} ms (callTimeout 300) while the server was busy for 2 s`);
      await blocker.join();
      assert.equal(blocker.exitCode, 0);
      assert.equal(d.get('k'), 7);
    } finally {
      await m3.shutdown();
    }
  });

  it('(d) a worker thread’s call (through its helper) times out too', { timeout: 60_000 }, async () => {
    const d = m.dict<number>({ k: 3 });
    const [here, there] = Pipe();
    await stopProcess(m.pid);
    let r: Outcome;
    let t: Thread<any>;
    try {
      t = new Thread({ target: callTimeoutTasks.getOnce, args: [d, 'k', there] }).start();
      assert.ok(await here.poll(20_000), "the thread's call ended");
      r = (await here.recv()) as Outcome;
    } finally {
      process.kill(m.pid, 'SIGCONT');
    }
    assertTimedOut(r, 500, m.pid);
    await t.join();
    assert.equal(d.get('k'), 3);
  });

  it('(e) late answers racing a tiny callTimeout: each call returns its own value or throws TimeoutError', { timeout: 120_000 }, async () => {
    const m5 = await Manager.start({ authkey });
    try {
      m5.register('stall', stallFactory);
      const stall = m5.create<Stall>('stall');
      const d = m5.dict<number>(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i])));
      for (let i = 0; i < 20; i++) d.get('k0'); // the lane opens
      const fast = within(d, 10);
      stall.churn(30);
      const tally = { answers: 0, timeouts: 0 };
      try {
        for (let round = 0; round < 2; round++) {
          for (let i = 0; i < 200; i++) {
            // A pause of up to 3 ms lands the next call at any point of the server's bursts.
            const resume = performance.now() + Math.random() * 3;
            while (performance.now() < resume);
            const r = outcome(() => fast.get(`k${i}`));
            if (r.name === undefined) {
              assert.equal(r.value, i, `call ${i} got another call's answer`);
              tally.answers++;
            } else {
              assert.equal(r.name, 'TimeoutError', r.message);
              tally.timeouts++;
            }
          }
        }
      } finally {
        stall.calm();
      }
      console.log(`# ${tally.answers} answers, ${tally.timeouts} timeouts`);
      assert.ok(tally.answers > 0 && tally.timeouts > 0, JSON.stringify(tally));
      // Nothing was lost or mixed up: every value is where it was.
      for (let i = 0; i < 200; i++) assert.equal(d.get(`k${i}`), i);
    } finally {
      await m5.shutdown();
    }
  });

  it('(f) a server SIGKILLed while a timed call waits in its lane: EOFError at once, not at the deadline', { timeout: 60_000, skip: !lanesHere && 'lanes are for Linux' }, async () => {
    const m6 = await Manager.start({ authkey, callTimeout: 60_000 });
    try {
      const d = m6.dict<number>();
      const [here, there] = Pipe();
      const p = new Process({ target: callTimeoutTasks.stalledCalls, args: [d, there] }).start();
      assert.ok(await here.poll(30_000));
      assert.equal(((await here.recv()) as { lanes: number }).lanes, 1);
      await stopProcess(m6.pid);
      here.send('go');
      await sleep(300); // the call waits in its lane
      process.kill(m6.pid, 'SIGKILL');
      assert.ok(await here.poll(15_000), 'the call ended');
      const r = (await here.recv()) as Outcome;
      assert.equal(r.name, 'EOFError', r.message);
      assert.ok(r.took < 5_000, `EOFError after ${r.took} ms`);
      p.kill();
      await p.join();
    } finally {
      await m6.shutdown().catch(() => {});
    }
  });
});
