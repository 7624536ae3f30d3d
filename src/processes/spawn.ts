import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { entryUrl } from '../util/entry-url.js';
import { checkNotBootstrapping } from '../tasks/main-guard.js';
import { childExecArgv } from '../util/exec-argv.js';
import { childProcess } from '../util/lazy-builtin.js';
import { treeEnv } from '../sync/shm-tree.js';
import { sendingData } from '../sync/views.js';

// A child runs TypeScript only if it has a loader; from sources concur itself needs one.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = fileURLToPath(entryUrl(import.meta.url, 'processes', 'child-entry'));

/** File descriptor on which a child reports, as it exits, which task it was in. */
export const STATUS_FD = 4;

/** What a child learns before it runs anything of the user's. */
export type ChildInit =
  | { kind: 'pool'; init: unknown }
  | { kind: 'process'; name: string; daemon: boolean; target: unknown; args: unknown[]; fields?: string[] | undefined };

/** Options for a concur child process. */
export interface SpawnOptions {
  execArgv?: string[] | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  name: string;
  /** A daemonic child (a daemon Process, a Pool worker) may not start children of its own. */
  daemon?: boolean;
}

// A daemonic child finds '1' here and replaces it with its own pid (claimDaemonic), so
// that its worker threads, which copy the environment, know too, while a program it
// runs with child_process (another pid) does not.
const DAEMONIC = 'CONCUR_DAEMONIC';

/** @internal In a child's entry: takes the daemonic mark its parent set, if any. */
export function claimDaemonic(): void {
  if (process.env[DAEMONIC] === '1') process.env[DAEMONIC] = String(process.pid);
  else delete process.env[DAEMONIC];
  daemonic = undefined;
}

// Whether this process is daemonic, read from the environment once: every process-pool
// submit asks, and reading process.env is a call into the runtime each time.
let daemonic: boolean | undefined;

/**
 * Throws Python's error in a daemonic process (a daemon Process or a Pool worker, and
 * any thread of one): "daemonic processes are not allowed to have children". A child
 * still importing a task module gets the bootstrapping error first: a Pool worker that
 * meets an unguarded top-level Pool is missing the isMain() guard, which the daemon rule
 * would not tell its user.
 */
export function checkMayHaveChildren(what: string): void {
  daemonic ??= process.env[DAEMONIC] === String(process.pid);
  if (!daemonic) return;
  checkNotBootstrapping(what);
  throw new Error(
    'daemonic processes are not allowed to have children: this process is a daemon Process or a multiprocessing Pool worker ' +
      '(start children from a non-daemon Process, or use a ProcessPoolExecutor, whose workers are not daemonic)',
  );
}

/**
 * Forks concur's child entry with structured-clone IPC and a status pipe. The first
 * IPC message is `init`. The child watches this process and exits if it goes away.
 */
export function spawnChild(init: ChildInit, options: SpawnOptions): ChildProcess {
  let execArgv = childExecArgv(options.execArgv ?? process.execArgv);
  if (FROM_SOURCE && !execArgv.some((a) => a.includes('tsx'))) execArgv = [...execArgv, '--import', 'tsx'];
  const child = childProcess().fork(ENTRY, [], {
    serialization: 'advanced',
    stdio: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'],
    execArgv,
    env: { ...(options.env ?? process.env), ...treeEnv(), CONCUR_PARENT_PID: String(process.pid), CONCUR_CHILD_NAME: options.name, [DAEMONIC]: options.daemon ? '1' : '' },
  });
  try {
    sendingData(init, (plain) => child.send({ $concurInit: plain }));
  } catch (err) {
    // An argument that cannot be serialized: the child would wait for its init forever.
    child.kill('SIGKILL');
    throw err;
  }
  return child;
}

/** Collects the child's exit report (see child-entry.ts): the task seq it was in, if any. */
export function readExitReport(child: ChildProcess): () => { seq: number; running: boolean } | undefined {
  let text = '';
  const status = child.stdio[STATUS_FD] as NodeJS.ReadableStream | null;
  status?.setEncoding('utf8');
  status?.on('data', (chunk: string) => (text += chunk));
  return () => {
    try {
      const r = JSON.parse(text) as { seq: number; running: number };
      return { seq: r.seq, running: r.running === 1 };
    } catch {
      return undefined;
    }
  };
}
