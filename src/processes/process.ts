import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { availableParallelism, constants } from 'node:os';
import { serialize } from 'node:v8';
import { markRunnableKind, Runnable, type RunHandle, type RunnableOptions } from '../util/runnable.js';
import { isMainProcess } from '../tasks/main-guard.js';
import { checkRunArgs, runCloneError } from '../util/run-args.js';
import { dehydrate } from './dehydrate.js';
import { checkMayHaveChildren, spawnChild, STATUS_FD } from './spawn.js';
import { own } from './thread-owned.js';

/** Options of a Process. */
export type ProcessOptions<A extends unknown[]> = RunnableOptions<A>;

/** Options only a Process takes. */
export interface ChildOptions {
  /** Node flags for the child. @default process.execArgv */
  execArgv?: string[];
  /** The child's environment. @default process.env */
  env?: NodeJS.ProcessEnv;
}

const children = new Set<Process<any>>();

// Daemon children end with their parent, as in Python. (Every child also watches its
// parent and exits when it is gone; this makes it immediate on a normal exit.)
process.on('exit', () => {
  for (const p of children) if (p.daemon && p.isAlive()) p.kill();
});

function signalNumber(signal: string): number {
  return (constants.signals as Record<string, number>)[signal] ?? 0;
}

/**
 * A function running in a child process of its own: multiprocessing.Process. The
 * child shares nothing with this process; its arguments are structured-cloned, and
 * it ends when its target returns (exit code 0) or throws (exit code 1) and the
 * non-daemon Processes and Threads it started have ended, as a Python child does.
 */
export class Process<A extends unknown[] = unknown[]> extends Runnable<A> {
  readonly #options: ChildOptions;
  #child: ChildProcess | undefined;
  #selfPid: number | undefined; // in the child, on the instance a subclass's run() is called on

  /** Options with a target; a subclass that overrides run() may pass none (or name, daemon, args...). */
  constructor(options?: ProcessOptions<A> & ChildOptions) {
    super(options, 'Process');
    this.#options = { execArgv: options?.execArgv, env: options?.env };
  }

  /** Throws in a daemonic process (as Python); start() checks first that this one was not started before, nor closed. */
  protected override checkMayStart(): void {
    checkMayHaveChildren('process');
  }

  protected launch(): RunHandle {
    const spec = this.runSpec();
    checkRunArgs('Process', spec);
    const { target, args, fields } = spec;
    const crossing = dehydrate(args);
    let child: ChildProcess;
    try {
      child = spawnChild({ kind: 'process', name: this.name, daemon: this.daemon, target, args: crossing.args, fields }, { ...this.#options, name: this.name, daemon: this.daemon });
    } catch (err) {
      // IPC serializes with v8's serializer, which refuses what structuredClone would take (a SharedArrayBuffer).
      throw runCloneError('Process', spec, crossing.args, err, serialize);
    }
    crossing.attach(child);
    // The exit-report pipe is for pools; a Process never reads it. Left referenced, it kept
    // the program alive for as long as a daemon child ran (the child handle is what holds).
    (child.stdio[STATUS_FD] as Socket | null)?.unref();
    this.#child = child;
    children.add(this);
    // In a worker thread: known to the thread's spawner, which ends it if the thread is stopped.
    const disown = child.pid === undefined ? () => {} : own(child.pid);
    let exited = false;
    child.once('exit', (code, signal) => {
      disown();
      exited = true;
      children.delete(this);
      this.ended(signal !== null ? -signalNumber(signal) : (code ?? 0));
    });
    // Node reports a send that met a dead child (EPIPE, a closed channel) as an 'error'
    // event, after the send returned: unheard, it is an uncaught exception that ends this
    // process. The child's exit follows and ends its connections here. A child that never
    // started (no pid) gets no exit: it ends now, as one that exited 1.
    child.on('error', () => {
      if (child.pid === undefined && !exited) {
        exited = true;
        children.delete(this);
        this.ended(1);
      }
    });
    return {
      hold: (on) => {
        const channel = child.channel as { ref?: () => void; unref?: () => void } | undefined;
        if (on) {
          child.ref();
          channel?.ref?.();
        } else {
          child.unref();
          channel?.unref?.();
        }
      },
    };
  }

  /** Sends SIGTERM. */
  terminate(): void {
    this.checkOpen();
    if (this.isAlive()) this.#child?.kill('SIGTERM'); // no child: the instance running in its own child
  }

  /** Sends SIGKILL. */
  kill(): void {
    this.checkOpen();
    if (this.isAlive()) this.#child?.kill('SIGKILL');
  }

  /** The child's pid, once started (in the child, on a subclass's instance: its own). Throws once closed, as Python. */
  get pid(): number | undefined {
    this.checkOpen();
    return this.#child?.pid ?? this.#selfPid;
  }

  /** @internal */
  override becameCurrent(): void {
    super.becameCurrent();
    this.#selfPid = process.pid;
  }
}
markRunnableKind(Process, 'Process');

/** Describes a process: this one, its parent, or a child. */
export interface ProcessInfo {
  readonly name: string;
  readonly pid: number;
}

/** This process: 'MainProcess', or the name its parent gave it. */
export function currentProcess(): ProcessInfo {
  return { name: isMainProcess() ? 'MainProcess' : (childName ?? 'Process'), pid: process.pid };
}

/** The concur parent of this process, or null in the main process. */
export function parentProcess(): ProcessInfo | null {
  return isMainProcess() ? null : { name: 'ParentProcess', pid: process.ppid };
}

/** The Processes this process started that are still running. */
export function activeChildren(): Process<any>[] {
  return [...children].filter((p) => p.isAlive());
}

/** How many CPUs this process may use. */
export function cpuCount(): number {
  return availableParallelism();
}

const childName = process.env.CONCUR_CHILD_NAME;
delete process.env.CONCUR_CHILD_NAME;
