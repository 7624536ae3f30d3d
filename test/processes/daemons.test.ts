// The end of a program with daemon Processes, as Python users know it: daemons are killed
// when the main program ends; the non-daemons are waited for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allGone, LIMIT, runProgram } from '../fixtures/run-program.js';

const PROGRAM = './lifecycle-programs.ts';

// Each program mostly waits for its node processes to start: run them side by side.
describe('the end of a program with daemon Processes', { concurrency: true }, () => {
  it('daemon Processes (awaiting, spinning, blocked in a wait) are killed when the main program ends; a non-daemon is waited for', async () => {
    const r = await runProgram(PROGRAM, ['daemons', 'process'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    const pids = /pids (\d+) (\d+) (\d+)/.exec(r.stdout);
    assert.ok(pids, r.stdout);
    assert.match(r.stdout, /exit: non-daemon ran/);
    await allGone(pids.slice(1).map(Number), 3000);
  });

  it('the JoinableQueue example ends: daemon consumer Processes, the main program joins the queue and returns', async () => {
    const r = await runProgram(PROGRAM, ['joinable', 'process'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /all done, sum 190/);
  });

  it('a daemon Process joined with no timeout keeps the program alive until it ends, though a join(timeout) of it timed out meanwhile (the program exited 13, the join unsettled)', { timeout: LIMIT }, async () => {
    const r = await runProgram(PROGRAM, ['joinDaemonTwice', 'process'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /timed join returned, alive true\njoined: daemon ran, exit 0/);
  });
});
