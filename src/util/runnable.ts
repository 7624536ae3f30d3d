import type { TaskFunction } from '../futures/executor.js';
import { checkTimeout, describe } from '../futures/future.js';
import { setLongTimeout, type LongTimeout } from './timers.js';
import { checkNotBootstrapping } from '../tasks/main-guard.js';

/** The options Process and Thread share. */
export interface RunnableOptions<A extends unknown[]> {
  /** The function to run: a defineTasks task or a self-contained function. */
  target: TaskFunction<A, unknown>;
  /** Its arguments. */
  args?: A;
  /** A name for messages; a default is made from the kind. */
  name?: string;
  /**
   * A daemon does not keep its parent alive: it is stopped once the parent has nothing
   * else to do (the main program's event loop is empty, or a child's target and its
   * non-daemon children are done). A non-daemon is waited for. @default false
   */
  daemon?: boolean;
}

/** What a started Process or Thread runs on: something that ends, can be held open, and stopped. */
export interface RunHandle {
  /** Keeps the program alive until it ends (true), or not (false). */
  hold(on: boolean): void;
}

const counters = new Map<string, number>();

// What this thread started and has not seen end: a target that returns waits for these
// (see joinChildren). Module state, so each thread has its own.
const running = new Set<Runnable<any>>();

/**
 * @internal Waits until every non-daemon Process and Thread this thread started has
 * ended, including any started meanwhile: what Python does when a process's main code
 * ends. The daemons are left to the exit that follows, which stops them.
 */
export async function joinChildren(): Promise<void> {
  for (let waiting = nonDaemons(); waiting.length > 0; waiting = nonDaemons()) await Promise.all(waiting.map((r) => r.join()));
}

function nonDaemons(): Runnable<any>[] {
  return [...running].filter((r) => !r.daemon);
}

/**
 * What Process and Thread share, as Python's BaseProcess: name, daemon, start-once,
 * join with a timeout, isAlive, exitCode and close. A subclass starts the real thing
 * in `launch` and reports its end through `ended`.
 */
export abstract class Runnable<A extends unknown[]> {
  protected readonly target: TaskFunction<A, unknown>;
  protected readonly args: A;
  #name: string;
  #daemon: boolean;
  #handle: RunHandle | undefined;
  #exitCode: number | null = null;
  #exited: Promise<void> | undefined;
  #markExited: (() => void) | undefined;
  #closed = false;

  constructor(options: RunnableOptions<A>, kind: 'Process' | 'Thread') {
    if (options === null || typeof options !== 'object') throw new TypeError(`${kind} options must be an object, got ${describe(options)}`);
    if (typeof options.target !== 'function') throw new TypeError(`target must be a function, got ${describe(options.target)}`);
    if (options.args !== undefined && !Array.isArray(options.args)) throw new TypeError(`args must be an array, got ${describe(options.args)}`);
    this.target = options.target;
    this.args = (options.args ?? []) as A;
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    this.#name = options.name ?? `${kind}-${n}`;
    this.#daemon = options.daemon ?? false;
    this.#kind = kind;
  }

  readonly #kind: string;

  /** Starts it. Throws if started before, or closed. */
  start(): this {
    checkNotBootstrapping(this.#kind.toLowerCase()); // a child importing a task module must not start more (Python's spawn rule)
    this.checkOpen();
    if (this.#handle !== undefined) throw new Error(`${this.#name}: a ${this.#kind.toLowerCase()} can only be started once`);
    this.#exited = new Promise<void>((resolve) => (this.#markExited = resolve));
    this.#handle = this.launch();
    running.add(this);
    if (this.#daemon) this.#handle.hold(false);
    return this;
  }

  /** Starts the underlying process or thread; called once by `start()`. */
  protected abstract launch(): RunHandle;

  /** For subclasses: the process or thread ended with this exit code. */
  protected ended(exitCode: number): void {
    running.delete(this);
    this.#exitCode = exitCode;
    this.#markExited?.();
  }

  /** Waits until it ends, or until `timeout` ms pass (then it just returns, as Python). */
  async join(timeout?: number): Promise<void> {
    checkTimeout(timeout);
    this.checkOpen();
    if (this.#exited === undefined) throw new Error(`${this.#name}: can only join a started ${this.#kind.toLowerCase()}`);
    // Someone is waiting for it: even a daemon keeps the program alive meanwhile.
    if (this.isAlive()) this.#handle!.hold(true);
    if (timeout === undefined) return this.#exited;
    let timer: LongTimeout | undefined;
    await Promise.race([this.#exited, new Promise<void>((r) => (timer = setLongTimeout(r, timeout)))]);
    timer?.clear();
    if (this.#daemon && this.isAlive()) this.#handle!.hold(false);
  }

  /** True from `start()` until it has ended. */
  isAlive(): boolean {
    return this.#handle !== undefined && this.#exitCode === null;
  }

  /** Releases the object; throws while it is still running. */
  close(): void {
    if (this.isAlive()) throw new Error(`${this.#name}: cannot close a ${this.#kind.toLowerCase()} while it is still running; join or terminate it first`);
    this.#closed = true;
  }

  /** null before start and while running; the exit code after (minus the signal number after a signal, for a process). */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** The name given, or 'Process-N' / 'Thread-N'. */
  get name(): string {
    return this.#name;
  }
  set name(value: string) {
    this.#name = String(value);
  }

  /** Whether it is a daemon; settable until `start()`. */
  get daemon(): boolean {
    return this.#daemon;
  }
  set daemon(value: boolean) {
    if (this.#handle !== undefined) throw new Error(`${this.#name}: cannot set daemon after start()`);
    this.#daemon = Boolean(value);
  }

  /** Throws once the object is closed. */
  protected checkOpen(): void {
    if (this.#closed) throw new Error(`${this.#name}: the ${this.#kind.toLowerCase()} object is closed`);
  }
}
