import type { ChildProcess } from 'node:child_process';
import { availableParallelism, constants } from 'node:os';
import type { TaskFunction } from '../futures/executor.js';
import { checkTimeout, describe } from '../futures/future.js';
import { specOf } from '../tasks/describe.js';
import { isMainProcess } from '../tasks/main-guard.js';
import { dehydrate } from './dehydrate.js';
import { spawnChild } from './spawn.js';

/** Options of a Process (and of a Thread). */
export interface ProcessOptions<A extends unknown[]> {
  /** The function to run: a defineTasks task or a self-contained function. */
  target: TaskFunction<A, unknown>;
  /** Its arguments, structured-cloned into the child. */
  args?: A;
  /** A name for messages and `currentProcess().name`. @default 'Process-N' */
  name?: string;
  /** A daemon child is killed when its parent exits; a parent waits for the others. @default false */
  daemon?: boolean;
}

/** Options only a Process takes. */
export interface ChildOptions {
  /** Node flags for the child. @default process.execArgv */
  execArgv?: string[];
  /** The child's environment. @default process.env */
  env?: NodeJS.ProcessEnv;
}

const children = new Set<Process<any>>();
let counter = 0;

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
 * it ends when its target returns (exit code 0) or throws (exit code 1).
 */
export class Process<A extends unknown[] = unknown[]> {
  readonly #target: TaskFunction<A, unknown>;
  readonly #args: A;
  readonly #options: ChildOptions;
  #name: string;
  #daemon: boolean;
  #child: ChildProcess | undefined;
  #exitCode: number | null = null;
  #exited: Promise<void> | undefined;
  #closed = false;

  constructor(options: ProcessOptions<A> & ChildOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`Process options must be an object, got ${describe(options)}`);
    if (typeof options.target !== 'function') throw new TypeError(`target must be a function, got ${describe(options.target)}`);
    if (options.args !== undefined && !Array.isArray(options.args)) throw new TypeError(`args must be an array, got ${describe(options.args)}`);
    this.#target = options.target;
    this.#args = (options.args ?? []) as A;
    this.#name = options.name ?? `Process-${++counter}`;
    this.#daemon = options.daemon ?? false;
    this.#options = { execArgv: options.execArgv, env: options.env };
  }

  /** Starts the child. Throws if started before, or closed. */
  start(): this {
    this.#checkOpen();
    if (this.#child !== undefined) throw new Error(`${this.#name}: a process can only be started once`);
    const target = specOf(this.#target);
    const crossing = dehydrate(this.#args);
    const child = spawnChild({ kind: 'process', name: this.#name, target, args: crossing.args }, { ...this.#options, name: this.#name });
    crossing.attach(child);
    this.#child = child;
    children.add(this);
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitCode = signal !== null ? -signalNumber(signal) : (code ?? 0);
        children.delete(this);
        resolve();
      });
    });
    if (this.#daemon) {
      child.unref();
      (child.channel as { unref?: () => void } | undefined)?.unref?.();
    }
    return this;
  }

  /** Waits until the child ends, or until `timeout` ms pass (then it just returns, as Python). */
  async join(timeout?: number): Promise<void> {
    checkTimeout(timeout);
    this.#checkOpen();
    if (this.#exited === undefined) throw new Error(`${this.#name}: can only join a started process`);
    // Someone is waiting for it: even a daemon child keeps the program alive meanwhile.
    if (this.isAlive()) this.#child!.ref();
    if (timeout === undefined) return this.#exited;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#exited, new Promise<void>((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    if (this.#daemon && this.isAlive()) this.#child!.unref();
  }

  /** True from `start()` until the child has exited. */
  isAlive(): boolean {
    return this.#child !== undefined && this.#exitCode === null;
  }

  /** Sends SIGTERM. */
  terminate(): void {
    this.#checkOpen();
    if (this.isAlive()) this.#child!.kill('SIGTERM');
  }

  /** Sends SIGKILL. */
  kill(): void {
    this.#checkOpen();
    if (this.isAlive()) this.#child!.kill('SIGKILL');
  }

  /** Releases the Process; throws while the child is still running. */
  close(): void {
    if (this.isAlive()) throw new Error(`${this.#name}: cannot close a process while it is still running; join or terminate it first`);
    this.#closed = true;
  }

  /** The child's pid, once started. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** null before start and while running; the exit code after; minus the signal number after a signal. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** The name given, or 'Process-N'. */
  get name(): string {
    return this.#name;
  }
  set name(value: string) {
    this.#name = String(value);
  }

  /** Whether the child dies with its parent; settable until `start()`. */
  get daemon(): boolean {
    return this.#daemon;
  }
  set daemon(value: boolean) {
    if (this.#child !== undefined) throw new Error(`${this.#name}: cannot set daemon after start()`);
    this.#daemon = Boolean(value);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`${this.#name}: the process object is closed`);
  }
}

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
