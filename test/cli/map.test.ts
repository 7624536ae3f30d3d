import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { real } from '../fixtures/source.js';
import { hostile, start } from './run-concur.js';

const bin = fileURLToPath(new URL('../../bin/concur.js', import.meta.url));
const tasks = real(new URL('../fixtures/cli-user-tasks.mjs', import.meta.url));
const signalTasks = real(new URL('../fixtures/cli-signal-tasks.mjs', import.meta.url));

/** Runs the command as a user would: a process, real files; resolves even when it fails. */
function concur(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}
const lines = (text: string): unknown[] => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const dir = (): string => mkdtempSync(join(tmpdir(), 'concur-cli-'));

describe('concur map', () => {
  for (const pool of ['process', 'thread', 'async']) {
    it(`maps a range on the ${pool} pool, in order, and ends with a summary`, async () => {
      const { code, stdout, stderr } = await concur(['map', `${tasks}#square`, '--range', '0..10', '--pool', pool, '--workers', '2', '--chunksize', '3']);
      assert.equal(code, 0, stderr);
      assert.deepEqual(lines(stdout), Array.from({ length: 10 }, (_, i) => ({ line: i + 1, result: i * i })));
      assert.match(stderr, /10 items, 0 failed, [\d.]+ s, \d+ items\/s; latency p50 .*, p90 .*, p99 /);
    });
  }

  it('takes a task module by the path of a link to it (as a package linked into node_modules is)', async () => {
    const link = join(dir(), 'linked-tasks.mjs');
    symlinkSync(tasks, link);
    const { code, stdout, stderr } = await concur(['map', `${link}#square`, '--range', '0..3', '--pool', 'thread', '--workers', '1']);
    assert.equal(code, 0, stderr);
    assert.deepEqual(lines(stdout), [0, 1, 4].map((result, i) => ({ line: i + 1, result })));
  });

  it('reports a malformed line and a failing item by line number, runs the rest, exits 1', async () => {
    const d = dir();
    writeFileSync(join(d, 'in.jsonl'), '1\n{oops\n13\n\n4\n');
    const out = join(d, 'out.jsonl');
    const { code, stdout, stderr } = await concur(['map', `${tasks}#square`, join(d, 'in.jsonl'), '--pool', 'thread', '--output', out]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.deepEqual(lines(readFileSync(out, 'utf8')), [
      { line: 1, result: 1 },
      { line: 2, error: "malformed JSON: Expected property name or '}' in JSON at position 1" },
      { line: 3, error: 'RangeError: unlucky' },
      { line: 5, result: 16 },
    ]);
    assert.match(stderr, /failed: line 2: malformed JSON/);
    assert.match(stderr, /failed: line 3: RangeError: unlucky/);
    assert.match(stderr, /4 items, 2 failed/);
  });

  it('reads stdin, and writes every result with --unordered', async () => {
    const { code, stdout } = await concur(['map', `${tasks}#square`, '-', '--unordered', '--chunksize', '1', '--pool', 'thread'], '2\n3\n4\n');
    assert.equal(code, 0);
    assert.deepEqual(
      (lines(stdout) as Array<{ line: number }>).sort((a, b) => a.line - b.line),
      [{ line: 1, result: 4 }, { line: 2, result: 9 }, { line: 3, result: 16 }],
    );
  });

  it('--timeout stops a task that runs too long; its items fail, the command ends', async () => {
    const { code, stdout } = await concur(['map', `${tasks}#hang`, '--range', '0..1', '--pool', 'thread', '--timeout', '200']);
    assert.equal(code, 1);
    assert.match(stdout, /"error":"TimeoutError: task hang .* timed out after 200 ms/);
  });

  it('clear errors, exit code 2: unreadable file, unknown module, unknown task, bad --range', async () => {
    const missing = await concur(['map', `${tasks}#square`, '/nonexistent/in.jsonl']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /concur: cannot read \/nonexistent\/in\.jsonl: ENOENT/);
    const noModule = await concur(['map', './no-such-module.mjs#x', '--range', '0..1']);
    assert.equal(noModule.code, 2);
    assert.match(noModule.stderr, /concur: cannot load module \.\/no-such-module\.mjs/);
    const noTask = await concur(['map', `${tasks}#nope`, '--range', '0..1']);
    assert.equal(noTask.code, 2);
    assert.match(noTask.stderr, /defines no task named "nope"/);
    const badRange = await concur(['map', `${tasks}#square`, '--range', '1-5']);
    assert.equal(badRange.code, 2);
    assert.match(badRange.stderr, /--range expects a\.\.b/);
  });

  it('an unknown flag is refused with the usage; --help documents every option', async () => {
    const bad = await concur(['map', `${tasks}#square`, '--bogus']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown option '--bogus'/);
    const help = await concur(['map', '--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--range', '--pool', '--workers', '--chunksize', '--unordered', '--retries', '--timeout', '--output']) assert.match(help.stdout, new RegExp(flag));
  });

  it('a stdout that is read slowly draws no MaxListenersExceededWarning', { timeout: 90_000 }, async () => {
    const r = start(['map', `${hostile}#identity`, '--range', '0..300000', '--pool', 'thread'], { timeoutMs: 80_000 });
    r.child.stdout!.pause();
    // Not a race: the longer the reader stalls, the more often the command waits on a full
    // output; a few times is enough to show the bug. (No waiting for a progress line: with
    // its output full, the command may print none until the reader resumes.)
    await sleep(1_500);
    r.child.stdout!.resume();
    const ran = await r.ended;
    assert.equal(ran.code, 0, ran.stderr.slice(-500));
    assert.doesNotMatch(ran.stderr, /MaxListenersExceededWarning/);
  });

  it('on a terminal shows a progress bar with the count, rate and ETA (run under script(1) for a tty)', async () => {
    const d = dir();
    writeFileSync(join(d, 'in.jsonl'), Array.from({ length: 2000 }, (_, i) => String(i + 100)).join('\n'));
    const typescript = join(d, 'tty.log');
    const command = [process.execPath, bin, 'map', `${tasks}#square`, join(d, 'in.jsonl'), '--pool', 'thread', '--output', join(d, 'out.jsonl')].join(' ');
    await new Promise<void>((resolve, reject) =>
      execFile('script', ['-qc', command, typescript], { timeout: 60_000 }, (error) => (error ? reject(error) : resolve())),
    );
    const screen = readFileSync(typescript, 'latin1');
    assert.match(screen, /100% \| 2000\/2000 items \| \d+\/s \| ETA \d+s \| 0 failed/);
    assert.match(screen, /2000 items, 0 failed/);
    assert.equal(readFileSync(join(d, 'out.jsonl'), 'utf8').trim().split('\n').length, 2000);
  });

  it('a second Ctrl-C while the progress bar shows leaves the terminal as it was (cursor shown, line wrapping on)', { timeout: 90_000 }, async () => {
    const d = dir();
    const fifo = join(d, 'fifo');
    execFileSync('mkfifo', [fifo]);
    writeFileSync(join(d, 'in.jsonl'), `${JSON.stringify(fifo)}\n`);
    const typescript = join(d, 'tty.log');
    const command = [process.execPath, bin, 'map', `${signalTasks}#holdOnFifo`, join(d, 'in.jsonl'), '--pool', 'thread', '--workers', '1', '--output', join(d, 'out.jsonl')].join(' ');
    const ran = new Promise<number>((resolve) =>
      execFile('script', ['-qefc', command, typescript], { timeout: 60_000, env: { ...process.env, CONCUR_TEST_DIR: d } }, (error) =>
        resolve(error ? ((error as { code?: number }).code ?? -1) : 0),
      ),
    );
    const appears = async (file: string): Promise<void> => {
      while (!existsSync(join(d, file))) await sleep(20);
    };
    await appears('started');
    const pid = Number(readFileSync(join(d, 'started'), 'utf8'));
    // The task's thread is in its FIFO's open, where the pool's terminate() cannot end it:
    // the stop the first SIGINT begins waits for it (up to 10 s).
    const inOpen = (): boolean => readdirSync(`/proc/${pid}/task`).some((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8') === 'wait_for_partner';
      } catch {
        return false;
      }
    });
    while (!inOpen()) await sleep(20);
    process.kill(pid, 'SIGINT');
    await appears('sigint-1'); // heard: the stop has begun (the command's listener ran in the same turn)
    process.kill(pid, 'SIGINT');
    await appears('sigint-2'); // heard: the command's listener runs next, before the worker can end
    await writeFile(fifo, ''); // lets the worker go, so that the process can end
    assert.equal(await ran, 130);
    const screen = readFileSync(typescript, 'latin1');
    assert.match(screen, /\x1b\[\?25l/, 'the bar hid the cursor');
    assert.match(screen.slice(screen.lastIndexOf('\x1b[?25l')), /\x1b\[\?25h/, 'the cursor is left hidden');
    if (screen.includes('\x1b[?7l')) assert.match(screen.slice(screen.lastIndexOf('\x1b[?7l')), /\x1b\[\?7h/, 'line wrapping is left off');
  });

  it('with its results on the same terminal, draws no bar over them (every result line whole, line wrapping left on)', async () => {
    const d = dir();
    writeFileSync(join(d, 'in.jsonl'), Array.from({ length: 2000 }, (_, i) => String(i + 100)).join('\n'));
    const typescript = join(d, 'tty.log');
    const command = [process.execPath, bin, 'map', `${tasks}#square`, join(d, 'in.jsonl'), '--pool', 'thread'].join(' ');
    await new Promise<void>((resolve, reject) =>
      execFile('script', ['-qc', command, typescript], { timeout: 60_000 }, (error) => (error ? reject(error) : resolve())),
    );
    const screen = readFileSync(typescript, 'latin1');
    const results = screen.split(/\r?\n/).filter((l) => l.includes('{"line":'));
    assert.equal(results.length, 2000, screen.slice(0, 2000));
    for (const l of results) assert.match(l, /^\{"line":\d+,"result":\d+\}\r?$/, `a result line drawn over: ${JSON.stringify(l)}`);
    assert.doesNotMatch(screen, /\x1b\[\?7l/, 'line wrapping turned off: long result lines would be cut on the screen');
    assert.match(screen, /2000 items, 0 failed/);
  });
});
