// An answer over 4 KiB reaches a lane's caller in pieces. An owner that stops after its
// header (SIGSTOP), dies there (SIGKILL), or sends a header that lies about the length
// must end the call with a TimeoutError after the callTimeout, an EOFError at once, or
// an error naming the lie, never a wait for the rest that nothing ends, and never an
// allocation of the length the header claims. The owner cuts its answers short through
// a test seam (CONCUR_TEST_LANE_TAIL, src/proxy/lane-server.ts), so the server stops
// exactly after the header, not when a signal happens to land; a child process makes
// the call, in each of the ways its lane may go: one test file per way (lane-tail-*.test.ts),
// as the twelve cases in one file passed the runner's 120 s per file at load 19 (each
// case starts a manager and a child: ~2 s on an idle machine, 10 to 19 s at load 19).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager, Pipe, Process, type Connection, type DictProxy } from '../../src/index.js';
import { native } from '../../src/sync/shm.js';
import { callTimeoutTasks, type Outcome } from '../fixtures/call-timeout-tasks.js';
import { isStopped, untilStopped } from '../fixtures/stop.js';
import { within } from '../fixtures/within.js';

const lanesHere = process.platform === 'linux' && process.env.CONCUR_PROXY_LANES !== '0';
const authkey = 'lane-tail tests';
/** A way a lane may go: its name, and the environment its child is started with. */
export type LaneVariant = readonly [what: string, env: Readonly<Record<string, string>>];
/** A value whose answer (64 KiB and a few bytes) goes by FIFO, in more than one piece. */
const BIG = 'x'.repeat(64 * 1024);
const SMALL = 's';

/** Starts a manager whose answers over 4 KiB the seam cuts short (`how`), with a dict of BIG and SMALL. */
async function tailManager(how: 'stop' | 'lie' | 'huge', callTimeout: number): Promise<{ m: Manager; d: DictProxy<string> }> {
  process.env.CONCUR_TEST_LANE_TAIL = how;
  let m: Manager;
  try {
    m = await Manager.start({ authkey, callTimeout });
  } finally {
    delete process.env.CONCUR_TEST_LANE_TAIL;
  }
  const d = m.dict<string>();
  d.set('big', BIG); // a small answer: the seam leaves it alone
  d.set('small', SMALL);
  return { m, d };
}

type Tail = Outcome & { largest: number };
type Child = { p: Process<any>; here: Connection; inMemory: number };

/** Starts a child (with `env`) that warms its lane to `d`'s manager and waits for 'go'. */
async function tailChild(d: DictProxy<string>, env: Record<string, string>): Promise<Child> {
  const [here, there] = Pipe();
  Object.assign(process.env, env);
  let p: Process<any>;
  try {
    p = new Process({ target: callTimeoutTasks.tailCall, args: [d, 'big', there] }).start();
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
  assert.ok(await here.poll(30_000), 'the child warmed up');
  const lanes = (await here.recv()) as { lanes: number; inMemory: number };
  assert.equal(lanes.lanes, 1, 'its lane opened');
  return { p, here, inMemory: lanes.inMemory };
}

/** Says 'go' and waits (at most `ms`) for how the child's call of a big answer ended. */
async function tailCall(c: Child, ms = 15_000): Promise<Tail> {
  c.here.send('go');
  assert.ok(await c.here.poll(ms), `the call did not end within ${ms} ms`);
  return (await c.here.recv()) as Tail;
}

/** Says 'again': the child reads SMALL 20 times; asserts each came, and how many lanes it has after. */
async function readsBack(c: Child, lanes: number): Promise<void> {
  c.here.send('again');
  assert.ok(await c.here.poll(30_000));
  const again = (await c.here.recv()) as { back: Outcome; lanes: number };
  assert.deepEqual(again.back.value, Array.from({ length: 20 }, () => SMALL), again.back.message);
  assert.equal(again.lanes, lanes);
  await c.p.join();
  assert.equal(c.p.exitCode, 0);
}

/** The four cases of an answer cut off after its header, through the lane `what` (its child given `env`). */
export function laneTailCases([what, env]: LaneVariant): void {
  describe(`an answer cut off after its header, through a lane (${what})`, { skip: !lanesHere && 'lanes are for Linux' }, () => {
    it(`a server stopped after the header: TimeoutError after the callTimeout; after SIGCONT the lane opens again (lane ${what})`, { timeout: 60_000 }, async () => {
      const { m, d } = await tailManager('stop', 500);
      let c: Child | undefined;
      try {
        c = await tailChild(d, env);
        assert.equal(c.inMemory, what === 'in memory' && native !== undefined ? 1 : 0);
        let r: Tail;
        try {
          r = await tailCall(c);
          assert.ok(isStopped(m.pid), `the server stopped itself in the middle of the answer (the call ended: ${JSON.stringify(r)})`);
        } finally {
          process.kill(m.pid, 'SIGCONT');
        }
        assert.equal(r.name, 'TimeoutError', `${r.name}: ${r.message} (value ${String(r.value)})`);
        assert.match(r.message!, new RegExp(`pid ${m.pid}\\b`));
        assert.match(r.message!, /get\(\) within 500 ms/);
        assert.ok(r.took >= 499 && r.took < 10_000, `timed out after ${r.took} ms`);
        console.log(`# timed out after ${r.took.toFixed(0)} ms (callTimeout 500), the answer's header read`);
        await readsBack(c, 1);
        assert.equal(d.size, 2);
      } finally {
        c?.p.kill();
        await m.shutdown();
      }
    });

    it(`a server SIGKILLed after the header: EOFError at once, not at the deadline (lane ${what})`, { timeout: 60_000 }, async () => {
      const { m, d } = await tailManager('stop', 500);
      let c: Child | undefined;
      try {
        c = await tailChild(within(d, 60_000), env);
        const ended = tailCall(c, 30_000);
        await untilStopped(m.pid); // by its own answer, after the header
        process.kill(m.pid, 'SIGKILL');
        const r = await ended;
        assert.equal(r.name, 'EOFError', `${r.name}: ${r.message}`);
        assert.ok(r.took < 10_000, `EOFError after ${r.took} ms`);
      } finally {
        c?.p.kill();
        await m.shutdown().catch(() => {});
      }
    });

    it(`a header that claims the frame limit, then less: TimeoutError, and the claimed length is never allocated (lane ${what})`, { timeout: 60_000 }, async () => {
      const { m, d } = await tailManager('lie', 500);
      let c: Child | undefined;
      try {
        c = await tailChild(d, env);
        const r = await tailCall(c);
        assert.equal(r.name, 'TimeoutError', `${r.name}: ${r.message}`);
        assert.match(r.message!, /get\(\) within 500 ms/);
        assert.ok(r.largest < 1 << 20, `allocated ${r.largest} bytes for an answer that claimed 64 MiB`);
        await readsBack(c, 1);
      } finally {
        // A caller still waiting for the rest (that never comes) ends with the server.
        await m.shutdown().catch(() => {});
        c?.p.kill();
      }
    });

    it(`a header that claims 0xf0000000 bytes, over any limit: an error naming it at once, and later calls work (lane ${what})`, { timeout: 60_000 }, async () => {
      const { m, d } = await tailManager('huge', 500);
      let c: Child | undefined;
      try {
        c = await tailChild(d, env);
        const r = await tailCall(c);
        assert.equal(r.name, 'Error', `${r.name}: ${r.message}`);
        assert.match(r.message!, new RegExp(`pid ${m.pid}\\b.*${0xf0000000} bytes.*frame limit of ${64 << 20} bytes`));
        assert.ok(r.took < 500, `took ${r.took} ms`);
        assert.ok(r.largest < 1 << 20, `allocated ${r.largest} bytes`);
        // The lane is closed for good (a lying owner's calls go through the helper).
        await readsBack(c, 0);
      } finally {
        c?.p.kill();
        await m.shutdown();
      }
    });
  });
}
