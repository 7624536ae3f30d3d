import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { entryUrl } from '../util/entry-url.js';
import { childExecArgv } from '../util/exec-argv.js';
import { childProcess } from '../util/lazy-builtin.js';

// A child runs TypeScript only if it has a loader; from sources concur itself needs one.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = fileURLToPath(entryUrl(import.meta.url, 'processes', 'child-entry'));

/** File descriptor on which a child reports, as it exits, which task it was in. */
export const STATUS_FD = 4;

/** What a child learns before it runs anything of the user's. */
export type ChildInit =
  | { kind: 'pool'; init: unknown }
  | { kind: 'process'; name: string; target: unknown; args: unknown[] };

/** Options for a concur child process. */
export interface SpawnOptions {
  execArgv?: string[] | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  name: string;
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
    env: { ...(options.env ?? process.env), CONCUR_PARENT_PID: String(process.pid), CONCUR_CHILD_NAME: options.name },
  });
  child.send({ $concurInit: init });
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
