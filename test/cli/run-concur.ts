// Runs the `concur` command as a user would (a process, real files) for the CLI tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { real } from '../fixtures/source.js';

export { alive, childrenOf } from '../fixtures/procs.js';

export const bin = fileURLToPath(new URL('../../bin/concur.js', import.meta.url));
export const hostile = real(new URL('../fixtures/cli-hostile-tasks.mjs', import.meta.url));

/** How a run ended and what it printed. */
export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Output collected from a running command, and its end. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  ended: Promise<Ran>;
}

/** Starts the command; `ended` resolves however it ends (a hang is killed after `timeoutMs` and said so). */
export function start(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; detached?: boolean; execArgv?: string[]; cwd?: string } = {}): Running {
  const child = spawn(process.execPath, [...(options.execArgv ?? []), bin, ...args], {
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: options.detached ?? false,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin!.on('error', () => {}); // the command may stop reading before we stop writing
  const ended = new Promise<Ran>((resolve) => {
    const timer = setTimeout(() => {
      err += `\n[test] killed after ${options.timeoutMs ?? 60_000} ms\n`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return { child, stdout: () => out, stderr: () => err, ended };
}

/** Runs the command to its end, with `input` on its stdin (closed at once when absent). */
export function concur(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Ran> {
  const r = start(args, options);
  r.child.stdin!.end(options.input ?? '');
  return r.ended;
}

/** Parses JSON lines. */
export const jsonLines = (text: string): Array<{ line: number; result?: unknown; error?: string }> =>
  text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

/** A fresh temporary directory. */
export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'concur-cli-'));

/** Resolves once `read()` matches `pattern`, checked on each chunk of `stream`; rejects if the stream ends first. */
export function waitFor(stream: NodeJS.ReadableStream, read: () => string, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(read())) {
        stream.off('data', check);
        stream.off('end', ended);
        resolve();
      }
    };
    const ended = (): void => reject(new Error(`the stream ended before ${pattern}; it had: ${read()}`));
    stream.on('data', check);
    stream.once('end', ended);
    check();
  });
}
