// A Thread ends after its own children: its target returns, it waits for the non-daemon
// Processes and Threads it started (which would die with its worker otherwise), and the
// daemon Process it started is killed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedQueue, Thread } from '../../src/index.js';
import { lifecycle } from '../fixtures/lifecycle-tasks.js';
import { procStat } from '../fixtures/procs.js';
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

  for (const fail of [false, true]) {
    it(`the daemon Process a Thread started is reaped when the Thread ends${fail ? ' by throwing' : ''}, not left a zombie of this process for as long as it runs`, { timeout: LIMIT }, async () => {
      const out = new SharedQueue<string>();
      const pids = new SharedQueue<number>();
      const t = new Thread({ target: lifecycle.parent, args: ['thread', out, pids, fail] }).start();
      await t.join();
      assert.equal(t.exitCode, fail ? 1 : 0);
      const pid = await pids.get();
      // Killed, it is gone once reaped; only this process can reap it (it is its parent).
      const deadline = performance.now() + 10_000;
      for (let s = procStat(pid); s !== undefined; s = procStat(pid)) {
        assert.ok(performance.now() < deadline, `the daemon ${pid} is still there, state ${s.state}, parent ${s.ppid} (this process is ${process.pid})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  }
});
