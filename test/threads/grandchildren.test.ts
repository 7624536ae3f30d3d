// A Thread ends after its own children: its target returns, it waits for the non-daemon
// Processes and Threads it started (which would die with its worker otherwise), and the
// daemon Process it started is killed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allGone, LIMIT, runProgram } from '../fixtures/run-program.js';

// Each program mostly waits for its node processes to start: run them side by side.
describe('a Thread ends after its own children', { concurrency: true }, () => {
  for (const inner of ['process', 'thread']) {
    it(`joining a Thread waits for the non-daemon ${inner} it started; its daemon Process is killed`, async () => {
      const r = await runProgram('./lifecycle-programs.ts', ['grandchild', 'thread', inner], LIMIT);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /child exit 0/);
      assert.match(r.stdout, new RegExp(`${inner} grandchild ran`));
      const daemon = /daemon pid (\d+)/.exec(r.stdout);
      assert.ok(daemon, r.stdout);
      await allGone([Number(daemon[1])], 3000);
    });
  }
});
