// When a Thread ends: alive while its target runs, and never keeping the program alive
// as a daemon.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, Thread } from '../../src/index.js';
import { lifecycle } from '../fixtures/lifecycle-tasks.js';
import { LIMIT, runProgram } from '../fixtures/run-program.js';

const PROGRAM = './lifecycle-programs.ts';

// Each program mostly waits for its node processes to start: run them side by side.
describe('when a Thread ends', { concurrency: true }, () => {
  it('a Thread whose target returns a promise that never settles stays alive until terminated', { timeout: LIMIT }, async () => {
    const started = new Event();
    const t = new Thread({ target: lifecycle.neverSettles, args: [started] }).start();
    assert.equal(await started.wait(LIMIT / 2), true);
    // Its event loop has nothing left to do: it would have ended by now if it could.
    await t.join(1000);
    assert.equal(t.isAlive(), true, `it ended with exit code ${t.exitCode}`);
    t.terminate();
    await t.join();
    assert.equal(t.isAlive(), false);
  });

  it('a Thread terminated before its target started reports exit code 1, as one terminated while it runs (it said 0)', { timeout: LIMIT }, async () => {
    for (let i = 0; i < 5; i++) {
      const started = new Event();
      const t = new Thread({ target: lifecycle.neverSettles, args: [started] }).start();
      t.terminate();
      await t.join();
      assert.equal(t.exitCode, 1, `try ${i}: the target ${started.isSet() ? 'had' : 'had not'} started`);
    }
  });

  it('daemon Threads (awaiting, spinning, blocked in a wait) do not keep the program alive; a non-daemon is waited for', async () => {
    const r = await runProgram(PROGRAM, ['daemons', 'thread'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /exit: non-daemon ran/);
  });

  it('the JoinableQueue example with daemon consumer Threads ends', async () => {
    const r = await runProgram(PROGRAM, ['joinable', 'thread'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /all done, sum 190/);
  });

  it('a daemon Thread joined with no timeout keeps the program alive until it ends, though a join(timeout) of it timed out meanwhile (the program exited 13, the join unsettled)', { timeout: LIMIT }, async () => {
    const r = await runProgram(PROGRAM, ['joinDaemonTwice', 'thread'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /timed join returned, alive true\njoined: daemon ran, exit 0/);
  });
});
