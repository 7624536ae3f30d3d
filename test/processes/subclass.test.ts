// `class Worker extends Process { run() {...} }`, as Python's subclass form: the class is
// registered with defineTasks, and the fields its constructor set arrive in the child.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pipe, Process, Thread, Value } from '../../src/index.js';
import { Adder, Failing, Reporter, SelfJoiningProcess, SelfReportingProcess, SelfReportingThread, Unregistered } from '../fixtures/subclass-tasks.js';
import { runProgram } from '../fixtures/run-program.js';

describe('Process and Thread subclasses that override run()', { concurrency: true }, () => {
  it('a Process subclass runs run() in the child with the fields its constructor set, its methods and its name', { timeout: 60_000 }, async () => {
    const [here, there] = Pipe();
    const p = new Reporter('http://example.test/', there, 'reporter 1');
    p.start();
    const got = (await here.recv()) as Record<string, unknown>;
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.deepEqual(got, {
      text: 'reporter 1 fetching http://example.test/',
      tries: 3,
      seen: [['a', 1]],
      pid: p.pid,
      ownPid: p.pid,
      isReporter: true,
    });
  });

  it('a Thread subclass: a shared Value field is the same memory', { timeout: 60_000 }, async () => {
    const total = new Value('i32', 0);
    const t = new Adder(total, 1000).start();
    await t.join();
    assert.equal(t.exitCode, 0);
    assert.equal(t.name, 'adder');
    assert.equal(total.value, 1000);
  });

  it('a run() that throws ends the child with exit code 1', { timeout: 60_000 }, async () => {
    const p = new Failing();
    assert.match(p.name, /^Process-\d+$/);
    p.start();
    await p.join();
    assert.equal(p.exitCode, 1);
  });

  it('a Process whose run() joins itself is told it cannot join the current process, and still ends normally', { timeout: 60_000 }, async () => {
    const [here, there] = Pipe();
    const p = new SelfJoiningProcess(there).start();
    assert.equal(await here.recv(), 'Error: self-joiner: cannot join current process (a process can only join its children)');
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  for (const [kind, Cls] of [['Process', SelfReportingProcess], ['Thread', SelfReportingThread]] as const) {
    for (const daemon of [true, false]) {
      it(`in its own run(), a ${daemon ? 'daemon' : 'non-daemon'} ${kind} subclass is alive and has the daemon flag it was started with, as Python's self.is_alive() and self.daemon, and refuses start() (it said not alive, daemon false, and started a copy of itself)`, { timeout: 60_000 }, async () => {
        const [here, there] = Pipe();
        const r = new Cls(there, daemon).start();
        const got = await here.recv();
        await r.join();
        assert.equal(r.exitCode, 0);
        assert.deepEqual(got, { daemon, alive: true, exitCode: null, restart: `${r.name}: a ${kind.toLowerCase()} can only be started once` });
      });
    }
  }

  it('an unregistered subclass, or no target and no run(), is refused saying what to do', () => {
    assert.throws(() => new Unregistered().start(), /Process subclass Unregistered overrides run\(\) but is not registered.*defineTasks\(import\.meta\.url, \{ Unregistered \}\)/);
    assert.throws(() => new Process(), /target must be a function \(or subclass Process and override run\(\)\), got undefined/);
    assert.throws(() => new Thread({} as never), /target must be a function \(or subclass Thread and override run\(\)\)/);
  });

  it('a field that cannot cross makes start() throw, naming it, and leaves no child behind', { timeout: 90_000 }, async () => {
    const run = await runProgram('./subclass-fn-field.ts', [], 60_000);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0]!, /^threw TypeError field "fn" of HasFn is a function, which cannot be sent to its process/);
    assert.match(lines[1]!, /^threw .*could not be cloned/);
    assert.match(lines[2]!, /^threw TypeError field "fn" of ThreadHasFn is a function, which cannot be sent to its thread/);
  });
});
