import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activeChildren, cpuCount, currentProcess, EOFError, isMainProcess, parentProcess, Pipe, Process, SharedQueue } from '../../src/index.js';
import { children } from '../fixtures/children.js';
import { LIMIT, runProgram } from '../fixtures/run-program.js';

describe('Process', () => {
  it('runs its target in a child and reports exit code 0, and null before start and while running', async () => {
    const p = new Process({ target: children.exitWith, args: [0], name: 'worker-1' });
    assert.equal(p.exitCode, null);
    assert.equal(p.isAlive(), false);
    p.start();
    assert.equal(p.isAlive(), true);
    assert.equal(typeof p.pid, 'number');
    assert.equal(p.name, 'worker-1');
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.equal(p.isAlive(), false);
  });

  it('the exit code a target sets in process.exitCode and returns is the exit code, as sys.exit(3) in Python', async () => {
    const p = new Process({ target: children.exitWith, args: [3] }).start();
    await p.join();
    assert.equal(p.exitCode, 3);
  });

  it('exit code 1 when the target throws', async () => {
    const p = new Process({ target: children.throws }).start();
    await p.join();
    assert.equal(p.exitCode, 1);
  });

  it('a target that throws is reported as Python reports it (an Error: "Process NAME:" then its stack), exit code 1', { timeout: LIMIT + 10_000 }, async () => {
    const r = await runProgram('./lifecycle-programs.ts', ['throwsValue'], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /throws-string exit 1\nthrows-undefined exit 1\nthrows-error exit 1/);
    assert.match(r.stderr, /^Exception in process throws-string: not an Error$/m);
    assert.match(r.stderr, /^Exception in process throws-undefined: undefined$/m);
    assert.match(r.stderr, /^Process throws-error:\nError: an Error\n {4}at /m);
    assert.match(r.stderr, /\[cause\]: 'its cause'/);
    assert.doesNotMatch(r.stderr, /^Node\.js v/m);
    assert.doesNotMatch(r.stderr, /UnhandledPromiseRejection|\.catch\(\)/);
  });

  for (const fail of [false, true]) {
    it(`what a child printed on stdout and stderr all reaches the pipe it writes to before it exits, its target ${fail ? 'thrown' : 'returned'} (the exit concur makes after the target dropped what the pipe had not taken)`, { timeout: LIMIT + 10_000 }, async () => {
      const n = 20_000; // 2 MB each, far more than a pipe holds
      const r = await runProgram('./lifecycle-programs.ts', ['printsMany', String(n), fail ? 'fail' : 'ok'], LIMIT);
      assert.equal(r.code, 0, r.stderr.slice(-2000));
      const count = (text: string): number => text.split('\n').filter((l) => /^line \d+ x{100}$/.test(l)).length;
      assert.equal(count(r.stdout), n);
      assert.equal(count(r.stderr), n);
      assert.match(r.stdout, new RegExp(`stdout printer exit ${fail ? 1 : 0}\nstderr printer exit ${fail ? 1 : 0}`));
      if (fail) assert.match(r.stderr, /^Process printer-stderr:\nError: failed after printing/m);
    });
  }

  for (const how of ['error', 'value', 'uninspectable'] as const) {
    it(`what a target sent down a Pipe before it threw ${{ error: 'an Error', value: 'a non-Error', uninspectable: 'an Error that cannot be shown' }[how]} all arrives`, { timeout: 60_000 }, async () => {
      const [here, there] = Pipe<string>({ duplex: false });
      // Values of 1 MB go by IPC, which an exit does not wait for.
      const p = new Process({ target: children.sendThenThrow, args: [there, 20, 1 << 20, how], name: `sends-then-throws-${how}` }).start();
      await p.join();
      assert.equal(p.exitCode, 1);
      const got: string[] = [];
      for (;;) {
        try {
          got.push((await here.recv()).slice(0, 3));
        } catch (err) {
          assert.ok(err instanceof EOFError, String(err));
          break;
        }
      }
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => String(i).padEnd(3, '.')));
    });
  }

  it('exitCode is minus the signal number after terminate() and kill()', async () => {
    const t = new Process({ target: children.spinForever }).start();
    assert.ok(activeChildren().includes(t));
    t.terminate();
    await t.join();
    assert.equal(t.exitCode, -15);
    const k = new Process({ target: children.hang }).start();
    k.kill();
    await k.join();
    assert.equal(k.exitCode, -9);
    assert.ok(!activeChildren().includes(k));
  });

  it('join(timeout) returns after the timeout while the child still runs', async () => {
    const p = new Process({ target: children.hang, daemon: true }).start();
    await p.join(20);
    assert.equal(p.isAlive(), true);
    p.kill();
    await p.join();
  });

  it('start() twice throws; close() of a running process throws; a closed process refuses use', async () => {
    const p = new Process({ target: children.hang }).start();
    assert.throws(() => p.start(), /can only be started once/);
    assert.throws(() => p.close(), /cannot close a process while it is still running/);
    p.kill();
    await p.join();
    p.close();
    assert.throws(() => p.terminate(), /closed/);
    await assert.rejects(p.join(), /closed/);
    // As Python's is_alive(), exitcode and pid after close(): ValueError, "process object is closed".
    assert.throws(() => p.isAlive(), /the process object is closed/);
    assert.throws(() => p.exitCode, /the process object is closed/);
    assert.throws(() => p.pid, /the process object is closed/);
    assert.match(p.name, /^Process-\d+$/, 'its name still reads');
    p.close(); // closing again does nothing, as in Python
  });

  it('refuses bad options', async () => {
    assert.throws(() => new Process({ target: 'x' as never }), /target must be a function/);
    assert.throws(() => new Process({ target: children.hang, args: 1 as never }), /args must be an array/);
    await assert.rejects(new Process({ target: children.hang }).join(), /can only join a started process/);
  });

  it('currentProcess, parentProcess, isMainProcess and cpuCount describe where code runs', async () => {
    assert.equal(currentProcess().name, 'MainProcess');
    assert.equal(parentProcess(), null);
    assert.equal(isMainProcess(), true);
    assert.ok(cpuCount() >= 1);
    const [here, there] = Pipe();
    const p = new Process({ target: children.whoami, args: [there], name: 'reporter' }).start();
    assert.deepEqual(await here.recv(), { name: 'reporter', parent: process.pid, main: false });
    await p.join();
  });
});

describe('Pipe between processes', () => {
  it('a parent and a child talk both ways; a 16 MiB message round-trips', async () => {
    const [parent, child] = Pipe();
    const p = new Process({ target: children.echo, args: [child] }).start();
    parent.send('hello');
    assert.equal(await parent.recv(), 'HELLO');
    const big = new Uint8Array(16 * 1024 * 1024).fill(7);
    parent.send(big);
    const back = (await parent.recv()) as Uint8Array;
    assert.equal(back.length, big.length);
    assert.equal(back[big.length - 1], 7);
    parent.send('bye');
    await p.join();
    assert.equal(p.exitCode, 0);
    await assert.rejects(parent.recv(), EOFError);
  });

  it('values sent before the child started reach it first, in order', async () => {
    const [parent, child] = Pipe();
    parent.send('first');
    parent.send('second');
    const p = new Process({ target: children.echo, args: [child] }).start();
    assert.equal(await parent.recv(), 'FIRST');
    assert.equal(await parent.recv(), 'SECOND');
    parent.send('bye');
    await p.join();
  });

  it('an end given to a second Process, or twice to one, is refused by a clear error naming the rule; the first child keeps it', { timeout: 60_000 }, async () => {
    const [reader, writer] = Pipe<number>({ duplex: false });
    const rule = /passed to a Thread, a Process or a pool task and now lives there: an end lives in one place.*its own Pipe/s;
    // Twice in one start: refused before anything moved, so the end still works here.
    assert.throws(() => new Process({ target: children.produce, args: [writer, writer as unknown as number] }).start(), /passed twice.*lives in one place.*its own Pipe/s);
    assert.equal(writer.closed, false);
    const first = new Process({ target: children.produce, args: [writer, 3] }).start();
    const second = new Process({ target: children.produce, args: [writer, 3] });
    assert.throws(() => second.start(), rule);
    assert.equal(second.isAlive(), false);
    assert.throws(() => writer.send(1), rule, 'the moved end, used here, says where it went');
    assert.deepEqual([await reader.recv(), await reader.recv(), await reader.recv()], [0, 1, 2]);
    await assert.rejects(reader.recv(), EOFError);
    await first.join();
    assert.equal(first.exitCode, 0);
  });

  it('both ends of one Pipe given to one Process talk to each other there, what was sent before included', { timeout: 60_000 }, async () => {
    const [a, b] = Pipe();
    const out = new SharedQueue<unknown>();
    a.send('early');
    const p = new Process({ target: children.bothEnds, args: [a, b, out] }).start();
    assert.deepEqual(await out.get({ timeout: 30_000 }), ['early', 'small', 100_000, 'back']);
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  it('a send to a child killed a moment ago, its exit not yet seen here, does not crash this process; after its exit, send and recv fail clearly', async () => {
    const [parent, child] = Pipe();
    const p = new Process({ target: children.echo, args: [child] }).start();
    parent.send('hello');
    assert.equal(await parent.recv(), 'HELLO');
    process.kill(p.pid!, 'SIGKILL');
    // This thread kept busy until the kernel has surely closed the child's end: the send
    // below then meets a dead peer (EPIPE) before this process has seen the exit.
    const end = Date.now() + 100;
    while (Date.now() < end);
    parent.send('anyone there?');
    await p.join();
    assert.equal(p.exitCode, -9);
    await assert.rejects(parent.recv(), EOFError);
    assert.throws(() => parent.send('after'), /closed|EOF|ended|exited/i);
  });

  it('recv rejects with EOFError once the other end has closed and the rest is drained', async () => {
    const [reader, writer] = Pipe<number>({ duplex: false });
    const p = new Process({ target: children.produce, args: [writer, 3] }).start();
    assert.deepEqual([await reader.recv(), await reader.recv(), await reader.recv()], [0, 1, 2]);
    await assert.rejects(reader.recv(), EOFError);
    await p.join();
  });
});
