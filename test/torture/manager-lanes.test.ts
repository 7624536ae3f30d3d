/**
 * Manager clients calling through their lanes (FIFOs to the server) while some are
 * SIGKILLed mid-call, and while the server itself is SIGKILLed. What must hold: every
 * answer a survivor checks is right, no increment under the lock is lost, a lock a dead
 * client held comes back, the server serves on; once the server dies, every client ends
 * with an EOFError (none hangs in its blocking read).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Manager, Pipe, Process, type Connection, type DictProxy, type Event, type Lock } from '../../src/index.js';
import { laneTortureTasks } from '../fixtures/lane-tasks.js';
import { pause, runFor, STALL_MS, STARTUP_MS, TEST_TIMEOUT, torture, TORTURE_MS, withDeadline } from './harness.js';

type Report = { started?: number; bad?: number; increments?: number; error?: string; message?: string };

interface Client {
  p: Process<never>;
  here: Connection;
}

function startClient(d: DictProxy<number>, lock: Lock, ev: Event, slot: number, seed: number, calls: number): Client {
  const [here, there] = Pipe();
  const p = new Process({ target: laneTortureTasks.churn, args: [d as DictProxy<unknown>, lock, ev, slot, seed, calls, there] }).start() as unknown as Process<never>;
  return { p, here };
}

const lanesHere = process.platform === 'linux' && process.env.CONCUR_PROXY_LANES !== '0';

describe('torture: manager lanes', { skip: !lanesHere && 'lanes are for Linux' }, () => {
  it(
    'clients SIGKILLed mid-call through their lanes: survivors see every answer right, no increment is lost, the lock comes back',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      const m = await Manager.start();
      let kills = 0;
      let calls = 0;
      try {
        const rounds = await runFor(TORTURE_MS, async (round) => {
          const d = m.dict<number>({ count: 0 });
          const lock = m.lock();
          const ev = m.event();
          const n = rng.int(2, 4);
          const perClient = rng.pick([500, 2000, 5000]);
          const clients = Array.from({ length: n }, (_, slot) => startClient(d, lock, ev, slot, rng.fork(), perClient));
          note(`round ${round}: ${n} clients of ${perClient} calls`);
          for (const c of clients) assert.deepEqual(await withDeadline(c.here.recv() as Promise<Report>, STARTUP_MS, 'a client starting'), { started: 1 });
          const victims = clients.filter(() => rng.chance(0.5));
          for (const v of victims) {
            await pause(rng.int(0, 30));
            v.p.kill();
            kills++;
          }
          let increments = 0;
          for (const c of clients) {
            await withDeadline(c.p.join(), STALL_MS * 4, 'a client ending');
            if (victims.includes(c)) continue;
            const r = (await withDeadline(c.here.recv() as Promise<Report>, STALL_MS, 'a survivor reporting')) as Report;
            assert.equal(r.error, undefined, r.message);
            assert.equal(r.bad, 0, 'a survivor saw a wrong answer');
            increments += r.increments!;
            calls += perClient;
          }
          // Killed clients may have added theirs; a survivor's are never lost.
          assert.ok(d.get('count')! >= increments, `count ${d.get('count')} < the survivors' ${increments} increments`);
          assert.equal(await lock.acquire({ timeout: STALL_MS }), true, 'the lock came back from its killed holder');
          lock.release();
        });
        report(`${rounds} rounds, ${kills} clients killed, ${calls} calls by survivors`);
      } finally {
        await m.shutdown();
      }
    }),
  );

  it(
    'a server SIGKILLed while clients call through their lanes: each ends with an EOFError, none hangs',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      let clientsSeen = 0;
      const rounds = await runFor(TORTURE_MS, async (round) => {
        const m = await Manager.start();
        try {
          const d = m.dict<number>({ count: 0 });
          const lock = m.lock();
          const ev = m.event();
          const n = rng.int(1, 4);
          const clients = Array.from({ length: n }, (_, slot) => startClient(d, lock, ev, slot, rng.fork(), 1e9));
          note(`round ${round}: ${n} clients`);
          for (const c of clients) await withDeadline(c.here.recv(), STARTUP_MS, 'a client starting');
          await pause(rng.int(0, 50));
          process.kill(m.pid, 'SIGKILL');
          for (const c of clients) {
            const r = (await withDeadline(c.here.recv() as Promise<Report>, STALL_MS, 'a client hearing its server died')) as Report;
            assert.equal(r.error, 'EOFError', r.message);
            await withDeadline(c.p.join(), STALL_MS, 'a client ending');
            clientsSeen++;
          }
        } finally {
          await m.shutdown();
        }
      });
      report(`${rounds} rounds, ${clientsSeen} clients saw their server die`);
    }),
  );
});
