// Long answers (64 KiB and more, by FIFO in pieces) racing a callTimeout of 5 ms while the
// server holds its thread in random bursts: each call returns its own answer whole or
// throws TimeoutError, never bytes left in the lane by a call that timed out. Apart from
// lane-tail.test.ts (since split in three, lane-tail-*.test.ts), whose twelve cases alone
// took up to ~90 s at load 16: together the file passed the test runner's 120 s.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager } from '../../src/index.js';
import { _lanesOpen } from '../../src/proxy/client.js';
import { within } from '../fixtures/within.js';

const lanesHere = process.platform === 'linux' && process.env.CONCUR_PROXY_LANES !== '0';
const authkey = 'lane-race tests';

/** A server-side object that holds the server's thread in random bursts, from churn(maxMs) until calm(). */
const churnFactory = () => {
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    churn(maxMs: number): boolean {
      timer = setInterval(() => {
        const until = Date.now() + Math.random() * maxMs;
        while (Date.now() < until);
      }, 1);
      return true;
    },
    calm(): boolean {
      clearInterval(timer);
      return true;
    },
  };
};

describe('long answers racing a tiny callTimeout, through a lane', { skip: !lanesHere && 'lanes are for Linux' }, () => {
  it('each call returns its own answer whole or throws TimeoutError, never bytes of a sentinel', { timeout: 120_000 }, async () => {
    const m = await Manager.start({ authkey });
    try {
      m.register('churn', churnFactory);
      const server = m.create<{ churn(maxMs: number): boolean; calm(): boolean }>('churn');
      const valueOf = (i: number): string => `${i}:`.padEnd(64 * 1024 + i, String.fromCharCode(97 + (i % 26)));
      const d = m.dict<string>();
      for (let i = 0; i < 50; i++) d.set(`k${i}`, valueOf(i));
      for (let i = 0; i < 20; i++) d.get('k0'); // the lane is open (the sets above may have opened it)
      const open = _lanesOpen();
      assert.ok(open >= 1);
      const fast = within(d, 5);
      server.churn(20);
      const tally = { answers: 0, timeouts: 0 };
      try {
        for (let round = 0; round < 4; round++) {
          for (let i = 0; i < 50; i++) {
            // A lane closed by a timeout opens again after as many calls (through the helper meanwhile).
            for (let n = 0; _lanesOpen() < open && n < 100; n++) d.get('k0');
            assert.equal(_lanesOpen(), open, 'the lane opened again');
            const resume = performance.now() + Math.random() * 3;
            while (performance.now() < resume);
            let value: string | undefined;
            try {
              value = fast.get(`k${i}`);
            } catch (err) {
              assert.equal((err as Error).name, 'TimeoutError', (err as Error).message);
              tally.timeouts++;
              continue;
            }
            assert.ok(value === valueOf(i), `call ${i} got ${value?.length} bytes that are not its answer`);
            tally.answers++;
          }
        }
      } finally {
        server.calm();
      }
      console.log(`# ${tally.answers} answers, ${tally.timeouts} timeouts`);
      assert.ok(tally.answers > 0 && tally.timeouts > 0, JSON.stringify(tally));
      for (let i = 0; i < 50; i++) assert.equal(d.get(`k${i}`), valueOf(i));
    } finally {
      await m.shutdown();
    }
  });
});
