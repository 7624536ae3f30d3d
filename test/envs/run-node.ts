/** Spawns node as a user would start a program, with a hard timeout, and collects what it printed. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built library's entry, as a file URL a spawned program imports. */
export const DIST = new URL('../../dist/index.js', import.meta.url).href;
/** The repository's root folder. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** How a spawned node ended and what it wrote. */
export interface NodeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the hard timeout killed it. */
  timedOut: boolean;
}

/** Options of runNode. */
export interface RunNodeOptions {
  /** Written to its stdin, which is then closed (see endInputWhen). */
  input?: string;
  /** Keeps stdin open until stdout matches this, then writes endInput and closes it. */
  endInputWhen?: RegExp;
  /** The last input, for endInputWhen. */
  endInput?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed with SIGKILL (with its process group) past this many ms. @default 30000 */
  timeoutMs?: number;
  /** The program to run instead of node. */
  command?: string;
}

/** A node process started by startNode. */
export interface StartedNode {
  readonly pid: number;
  /** Resolves with all of stdout so far once it matches `pattern`; rejects if the process ends first. */
  waitFor(pattern: RegExp): Promise<string>;
  /** Resolves when it has ended and every holder of its stdout and stderr (its children too) has closed them. */
  readonly done: Promise<NodeRun>;
}

/** Runs `node ...args` (or `command ...args`) to its end, or kills it at the timeout. */
export function runNode(args: string[], options: RunNodeOptions = {}): Promise<NodeRun> {
  return startNode(args, options).done;
}

/** Starts `node ...args` (or `command ...args`); it is killed with its process group at the timeout. */
export function startNode(args: string[], options: RunNodeOptions = {}): StartedNode {
  const child = spawn(options.command ?? process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // its own process group: the timeout kills its children too
  });
  let stdout = '';
  let stderr = '';
  let ended = false;
  const watchers = new Set<() => void>();
  let inputOpen = options.endInputWhen !== undefined;
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    for (const w of [...watchers]) w();
    if (inputOpen && options.endInputWhen!.test(stdout)) {
      inputOpen = false;
      child.stdin.end(options.endInput ?? '');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.on('error', () => {}); // it may exit before reading all of its input
  if (inputOpen) child.stdin.write(options.input ?? '');
  else child.stdin.end(options.input ?? '');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, options.timeoutMs ?? 30_000);
  const done = new Promise<NodeRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      ended = true;
      for (const w of [...watchers]) w();
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  const waitFor = (pattern: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(stdout)) {
          watchers.delete(check);
          resolve(stdout);
        } else if (ended) {
          watchers.delete(check);
          reject(new Error(`node ended before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`));
        }
      };
      watchers.add(check);
      check();
    });
  return { pid: child.pid!, waitFor, done };
}
