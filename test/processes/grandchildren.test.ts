// A child Process ends after its own children, as Python's do: its target returns (or
// throws), it waits for the non-daemon Processes and Threads it started, its daemons die.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allGone, LIMIT, runProgram } from '../fixtures/run-program.js';

const PROGRAM = './lifecycle-programs.ts';

// Each program mostly waits for its node processes to start: run them side by side.
describe('a child Process ends after its own children', { concurrency: true }, () => {
  it('joining a Process waits for the non-daemon Process it started; its daemon is killed', async () => {
    const r = await runProgram(PROGRAM, ['grandchild', 'process', 'process'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /child exit 0/);
    assert.match(r.stdout, /process grandchild ran/);
    const daemon = /daemon pid (\d+)/.exec(r.stdout);
    assert.ok(daemon, r.stdout);
    await allGone([Number(daemon[1])], 3000);
  });

  it('a Process whose target throws still waits for the non-daemon Thread it started, then exits with 1', async () => {
    const r = await runProgram(PROGRAM, ['grandchild', 'process', 'thread', 'fail'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /child exit 1/);
    assert.match(r.stdout, /thread grandchild ran/);
    assert.match(r.stderr, /parent target failed/);
    const daemon = /daemon pid (\d+)/.exec(r.stdout);
    assert.ok(daemon, r.stdout);
    await allGone([Number(daemon[1])], 3000);
  });
});
