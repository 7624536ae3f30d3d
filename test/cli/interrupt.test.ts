// Item 12 of issue 11: SIGINT stops the command: no more input, a partial summary (done,
// failed, not run), no child left behind, no noise from the workers, exit 130.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alive, childrenOf, hostile, jsonLines, start, waitFor, type Running } from './run-concur.js';

/** Starts `concur map` over the slow task and resolves once its first result line is out. */
async function startedSlow(args: string[], detached = false, task = 'slow'): Promise<Running> {
  const r = start(['map', `${hostile}#${task}`, ...args], { timeoutMs: 60_000, detached });
  await waitFor(r.child.stdout!, r.stdout, /\n/);
  return r;
}

function checkSummary(stdout: string, stderr: string, total: number | undefined): void {
  assert.doesNotMatch(stderr, /EPIPE|Unhandled|    at /, stderr);
  const m = /^interrupted: (\d+) items done, (\d+) failed, (\d+) not run/m.exec(stderr);
  assert.ok(m, stderr);
  const [done, failed, notRun] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const out = jsonLines(stdout);
  assert.equal(out.length, done, 'every item done has its line');
  assert.equal(failed, 0, stderr);
  assert.ok(done >= 1);
  for (let i = 1; i < out.length; i++) assert.ok(out[i]!.line > out[i - 1]!.line, 'still in input order');
  for (const o of out) assert.deepEqual(o, { line: o.line, result: o.line - 1 });
  if (total !== undefined) assert.equal(done + notRun, total);
}

describe('concur map: SIGINT', () => {
  for (const pool of ['process', 'thread']) {
    it(`to the command alone on the ${pool} pool: partial summary, exit 130, every worker gone`, { timeout: 90_000 }, async () => {
      const r = await startedSlow(['--range', '0..1000', '--pool', pool, '--workers', '2', '--chunksize', '1']);
      const kids = childrenOf(r.child.pid!);
      if (pool === 'process') assert.ok(kids.length >= 1, 'the pool has worker processes');
      r.child.kill('SIGINT');
      const ran = await r.ended;
      assert.equal(ran.code, 130, ran.stderr);
      // checked the moment the command is gone: not left for the workers' watchdogs to reap
      assert.deepEqual(kids.filter(alive), [], 'no worker outlives the command');
      checkSummary(ran.stdout, ran.stderr, 1000);
    });
  }

  it('to the whole process group, as Ctrl-C on a terminal: workers killed by SIGINT count as not run', { timeout: 90_000 }, async () => {
    const r = await startedSlow(['--range', '0..1000', '--pool', 'process', '--workers', '2', '--chunksize', '1'], true);
    const kids = childrenOf(r.child.pid!);
    process.kill(-r.child.pid!, 'SIGINT');
    const ran = await r.ended;
    assert.equal(ran.code, 130, ran.stderr);
    assert.deepEqual(kids.filter(alive), []);
    assert.doesNotMatch(ran.stdout, /killed by SIGINT/);
    checkSummary(ran.stdout, ran.stderr, 1000);
  });

  it('while it waits for input on stdin: stops reading, summary, exit 130', { timeout: 90_000 }, async () => {
    const r = start(['map', `${hostile}#identity`, '-', '--pool', 'process', '--workers', '1', '--chunksize', '1'], { timeoutMs: 60_000 });
    r.child.stdin!.write('0\n1\n');
    await waitFor(r.child.stdout!, r.stdout, /"line":2/);
    const kids = childrenOf(r.child.pid!);
    r.child.kill('SIGINT'); // stdin stays open: the command must not wait for its end
    const ran = await r.ended;
    assert.equal(ran.code, 130, ran.stderr);
    assert.deepEqual(kids.filter(alive), []);
    assert.match(ran.stderr, /^interrupted: 2 items done, 0 failed, 0 not run; the input was read to line 2/m);
    assert.deepEqual(jsonLines(ran.stdout), [
      { line: 1, result: 0 },
      { line: 2, result: 1 },
    ]);
  });

  it('on the async pool, ordered output with chunks of 3', { timeout: 90_000 }, async () => {
    const r = await startedSlow(['--range', '0..1000', '--pool', 'async', '--chunksize', '3'], false, 'sleepy');
    r.child.kill('SIGINT');
    const ran = await r.ended;
    assert.equal(ran.code, 130, ran.stderr);
    checkSummary(ran.stdout, ran.stderr, 1000);
  });
});

describe('concur map: SIGINT on the async pool running a synchronous task', () => {
  it('is heard between two items: the items queued, and those of chunks already started, do not run', { timeout: 90_000 }, async () => {
    // 100,000 items of 50 ms each, 64 chunks at once: the stop is heard only between items
    const r = start(['map', `${hostile}#busyAsync`, '--range', '0..100000', '--pool', 'async', '--chunksize', '1'], { timeoutMs: 60_000 });
    await waitFor(r.child.stderr!, r.stderr, /task 0 started/);
    const before = r.stderr().length;
    r.child.kill('SIGINT');
    const ran = await r.ended;
    assert.equal(ran.code, 130, ran.stderr.slice(-500));
    // Each item is 50 ms of the clock, however loaded the machine: the signal lands during
    // one, is handled once it returns, and no item starts after that. (The first chunks
    // all waited for the task's module together, then ran item after item with no turn
    // of the event loop between them: 60 to 100 items ran after the signal, 3 to 6 s.)
    const startedAfter = ran.stderr.slice(before).match(/task \d+ started/g) ?? [];
    assert.ok(startedAfter.length <= 2, `${startedAfter.length} items started after the SIGINT`);
    const m = /^interrupted: (\d+) items done, 0 failed, (\d+) not run/m.exec(ran.stderr);
    assert.ok(m, ran.stderr.slice(-500));
    const started = ran.stderr.match(/task \d+ started/g)!.length;
    assert.equal(Number(m[1]), started, 'each item that ran is counted done');
    assert.equal(Number(m[1]) + Number(m[2]), 100_000);
  });
});

describe('concur map: the output closes early (as `| head`)', () => {
  it('stops with one line on stderr, exit 1, no worker left', { timeout: 90_000 }, async () => {
    const r = await startedSlow(['--range', '0..1000', '--pool', 'process', '--workers', '2', '--chunksize', '1']);
    const kids = childrenOf(r.child.pid!);
    r.child.stdout!.destroy();
    const ran = await r.ended;
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(ran.stderr, /^concur: stopped: cannot write the output: .*EPIPE/m);
    assert.doesNotMatch(ran.stderr, /Unhandled|    at /);
    assert.deepEqual(kids.filter(alive), []);
  });
});

describe('concur map: SIGTERM while nothing reads its output', () => {
  it('ends (exit 143, a summary) rather than waiting for ever to write the lines that finished', { timeout: 90_000 }, async () => {
    // Each result line is 100 KB, more than the pipe holds: once the reader stops, the
    // lines finished in flight cannot all be written, however the run was timed.
    const r = start(['map', `${hostile}#big`, '--range', '0..200', '--pool', 'thread', '--workers', '2', '--chunksize', '1'], { timeoutMs: 60_000 });
    await new Promise<void>((resolve) => r.child.stdout!.once('data', () => resolve()));
    r.child.stdout!.pause(); // and never resumed while the command runs
    r.child.once('exit', () => r.child.stdout!.resume()); // then read to its end, for 'close'
    r.child.kill('SIGTERM');
    const ran = await r.ended;
    assert.doesNotMatch(ran.stderr, /\[test\] killed/, 'the command waited for ever on its output');
    assert.equal(ran.code, 143, ran.stderr);
    assert.match(ran.stderr, /^interrupted: \d+ items done/m);
  });
});

describe('concur map: the summary after lines were lost', () => {
  it('counts as done only the items whose lines were written, and says how many ran but were not', { timeout: 90_000 }, async () => {
    // As above: the reader stops, so finished lines (100 KB each) wait in the command's
    // buffer, and are left there when the 2 s grace after SIGTERM is over.
    const r = start(['map', `${hostile}#big`, '--range', '0..200', '--pool', 'thread', '--workers', '2', '--chunksize', '1'], { timeoutMs: 60_000 });
    await new Promise<void>((resolve) => r.child.stdout!.once('data', () => resolve()));
    r.child.stdout!.pause();
    r.child.once('exit', () => r.child.stdout!.resume()); // what reached the pipe is read after all
    r.child.kill('SIGTERM');
    const ran = await r.ended;
    assert.equal(ran.code, 143, ran.stderr);
    const m = /^interrupted: (\d+) items done, (\d+) failed, (?:(\d+) ran but were not written, )?(\d+) not run/m.exec(ran.stderr);
    assert.ok(m, ran.stderr);
    const [done, lost, notRun] = [Number(m[1]), Number(m[3] ?? 0), Number(m[4])];
    // Whole lines only: one cut short by the stop was not written.
    const whole = ran.stdout.split('\n').slice(0, -1);
    for (const line of whole) assert.match(line, /^\{"line":\d+,"result":"\d+\.+"\}$/);
    assert.equal(done, whole.length, `the summary says ${done} done; the reader got ${whole.length} lines`);
    assert.equal(done + lost + notRun, 200, ran.stderr);
  });
});

describe('concur map: killed outright (SIGKILL, no handler runs)', () => {
  it('a worker that finishes its task after that ends without an EPIPE stack', { timeout: 90_000 }, async () => {
    const r = start(['map', `${hostile}#untilOrphaned`, '--range', '0..3', '--pool', 'process', '--workers', '1', '--chunksize', '1']);
    await waitFor(r.child.stderr!, r.stderr, /task 0 started/);
    const [worker] = childrenOf(r.child.pid!);
    assert.ok(worker !== undefined);
    r.child.kill('SIGKILL');
    // the worker holds our stderr pipe too: 'close' comes once it is gone
    const ran = await r.ended;
    assert.equal(ran.signal, 'SIGKILL');
    assert.doesNotMatch(ran.stderr, /EPIPE|Unhandled|    at /);
    assert.equal(alive(worker), false);
  });
});
