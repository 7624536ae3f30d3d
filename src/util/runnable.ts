import type { TaskFunction } from '../futures/executor.js';
import { checkTimeout, describe } from '../futures/future.js';
import { setLongTimeout, type LongTimeout } from './timers.js';
import { checkNotBootstrapping } from '../tasks/main-guard.js';
import { specOf, type FunctionSpec } from '../tasks/describe.js';
import { taskRefOf } from '../tasks/registry.js';

/** The options Process and Thread share. */
export interface RunnableOptions<A extends unknown[]> {
  /** The function to run: a defineTasks task or a self-contained function. Not needed by a subclass that overrides run(). */
  target?: TaskFunction<A, unknown>;
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

/**
 * @internal In a Thread's worker once its target is done: stops the daemon Processes and
 * Threads this thread started and waits until they have ended. Killed from the 'exit'
 * listener instead, a Process was never reaped: the worker's event loop, which waits for
 * its children, is gone by then, so it stayed a zombie of the program for as long as the
 * program ran.
 */
export async function stopDaemons(): Promise<void> {
  const daemons = [...running].filter((r) => r.daemon && r.isAlive());
  for (const d of daemons) d.kill();
  await Promise.all(daemons.map((d) => d.join()));
}

function nonDaemons(): Runnable<any>[] {
  return [...running].filter((r) => !r.daemon);
}

/** What crosses to a child to run: a target and its arguments, or a subclass and its fields. */
export interface RunSpec {
  /** The target function, or the registered subclass whose run() to call. */
  target: FunctionSpec;
  /** The target's arguments, or the values of the instance's fields. */
  args: unknown[];
  /** For a subclass: the names of its fields, in the order of `args`. */
  fields?: string[];
}

// On Process and Thread themselves, so that a child finds which of them a user's subclass
// extends, even from another copy of concur than the entry's.
const KIND_KEY = Symbol.for('concur.runnableKind');

/** @internal Marks Process or Thread, so reviveRunnable finds which one a subclass extends. */
export function markRunnableKind(cls: Function, kind: 'Process' | 'Thread'): void {
  Object.defineProperty(cls, KIND_KEY, { value: kind });
}

/**
 * @internal In a child: an instance of the subclass `cls` of Process or Thread (`kind`),
 * as Python unpickles one: the base's constructor runs (the subclass's does not), then
 * the fields the parent's instance had are set, with its name and daemon flag. Its run()
 * is what the child runs; there, as in Python, it is alive and cannot be started again.
 */
export function reviveRunnable(kind: 'Process' | 'Thread', cls: Function, name: string, daemon: boolean, fields: string[], values: unknown[]): { run(): unknown } {
  let base: Function | null = cls;
  while (base !== null && !(Object.hasOwn(base, KIND_KEY) && (base as any)[KIND_KEY] === kind)) base = Object.getPrototypeOf(base) as Function | null;
  if (base === null) throw new TypeError(`${cls.name} does not extend ${kind}`);
  const self = Reflect.construct(base, [], cls) as Runnable<any>;
  fields.forEach((key, i) => Object.defineProperty(self, key, { value: values[i], writable: true, enumerable: true, configurable: true }));
  self.name = name;
  self.daemon = daemon;
  self.becameCurrent();
  return self;
}

/**
 * What Process and Thread share, as Python's BaseProcess: name, daemon, start-once,
 * join with a timeout, isAlive, exitCode and close. A subclass starts the real thing
 * in `launch` and reports its end through `ended`.
 *
 * As in Python, a user's subclass may override `run()` instead of passing a target:
 * the child then runs `run()` on a copy of the instance, rebuilt from its class (which
 * must be registered with defineTasks, so the child can import it) and its own
 * enumerable fields (structured-cloned; primitives and Pipe ends cross as arguments do).
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
  /** How many join(timeout) calls wait now: a daemon is let go only when none does and no join() waits. */
  #timedJoins = 0;
  #untimedJoin = false;
  /** In a child: this instance is the process or thread running now (see reviveRunnable). */
  #current = false;

  constructor(options: RunnableOptions<A> | undefined, kind: 'Process' | 'Thread') {
    const overridesRun = this.run !== Runnable.prototype.run;
    options ??= {}; // new Process() is an error about the target, below
    if (options === null || typeof options !== 'object') throw new TypeError(`${kind} options must be an object, got ${describe(options)}`);
    if (typeof options.target !== 'function' && !(options.target === undefined && overridesRun)) {
      throw new TypeError(`target must be a function (or subclass ${kind} and override run()), got ${describe(options.target)}`);
    }
    if (options.args !== undefined && !Array.isArray(options.args)) throw new TypeError(`args must be an array, got ${describe(options.args)}`);
    this.target = options.target!;
    this.args = (options.args ?? []) as A;
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    this.#name = options.name ?? `${kind}-${n}`;
    this.#daemon = options.daemon ?? false;
    this.#kind = kind;
  }

  readonly #kind: string;

  /** Starts it. Throws if started before, closed, or (a Process) if this process is daemonic, as Python. */
  start(): this {
    this.checkOpen();
    // In its child, the running instance was started (by its parent), as in Python.
    if (this.#handle !== undefined || this.#current) throw new Error(`${this.#name}: a ${this.#kind.toLowerCase()} can only be started once`);
    checkNotBootstrapping(this.#kind.toLowerCase()); // a child importing a task module must not start more (Python's spawn rule)
    this.checkMayStart();
    this.#exited = new Promise<void>((resolve) => (this.#markExited = resolve));
    try {
      this.#handle = this.launch();
    } catch (err) {
      // Refused (arguments that cannot cross, no child): as never started, so a join()
      // says so rather than waiting for an end that will not come.
      this.#exited = this.#markExited = undefined;
      throw err;
    }
    running.add(this);
    if (this.#daemon) this.#handle.hold(false);
    return this;
  }

  /** For subclasses: throws if this process or thread may not start one (after the checks every start makes). */
  protected checkMayStart(): void {}

  /** Stops it at once (SIGKILL for a process). */
  abstract kill(): void;

  /** Starts the underlying process or thread; called once by `start()`. */
  protected abstract launch(): RunHandle;

  /**
   * What the child runs: the target with its arguments. Override it in a subclass (as
   * Python's `run()`), register the subclass with defineTasks, and the child runs it.
   */
  run(): unknown {
    return this.target(...this.args);
  }

  /** For subclasses: what crosses to the child (see RunSpec). */
  protected runSpec(): RunSpec {
    if (this.run === Runnable.prototype.run) return { target: specOf(this.target), args: this.args };
    const cls = this.constructor;
    if (taskRefOf(cls) === undefined) {
      throw new TypeError(
        `${this.#kind} subclass ${cls.name} overrides run() but is not registered, so the child cannot import it: ` +
          `export it and add defineTasks(import.meta.url, { ${cls.name} }) to its module`,
      );
    }
    const fields = Object.keys(this).filter((key) => key !== 'target' && key !== 'args');
    const values = fields.map((key) => (this as Record<string, unknown>)[key]);
    values.forEach((value, i) => {
      if (typeof value === 'function') {
        throw new TypeError(
          `field "${fields[i]}" of ${cls.name} is a function, which cannot be sent to its ${this.#kind.toLowerCase()}: ` +
            'make it a method, or pass a defineTasks task and call it from run()',
        );
      }
    });
    return { target: specOf(cls), args: values, fields };
  }

  /** @internal In the child, on the rebuilt instance: it is the running process or thread. Overrides call it. */
  becameCurrent(): void {
    this.#current = true;
  }

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
    // Its own run() joining it would wait for itself: Python raises, and says so.
    if (this.#current) {
      throw new Error(
        this.#kind === 'Thread' ? `${this.#name}: cannot join current thread` : `${this.#name}: cannot join current process (a process can only join its children)`,
      );
    }
    if (this.#exited === undefined) throw new Error(`${this.#name}: can only join a started ${this.#kind.toLowerCase()}`);
    // Someone is waiting for it: even a daemon keeps the program alive meanwhile.
    if (this.isAlive()) this.#handle!.hold(true);
    if (timeout === undefined) {
      if (this.isAlive()) this.#untimedJoin = true;
      return this.#exited;
    }
    let timer: LongTimeout | undefined;
    this.#timedJoins++;
    await Promise.race([this.#exited, new Promise<void>((r) => (timer = setLongTimeout(r, timeout)))]);
    this.#timedJoins--;
    timer?.clear();
    // Let a daemon go again only if nobody else waits for it: a join() with no timeout
    // still waiting would otherwise be dropped when the program ends.
    if (this.#daemon && this.isAlive() && this.#timedJoins === 0 && !this.#untimedJoin) this.#handle!.hold(false);
  }

  /** True from `start()` until it has ended; in its child, for the instance whose run() runs there. Throws once closed, as Python. */
  isAlive(): boolean {
    this.checkOpen();
    if (this.#current) return true;
    return this.#handle !== undefined && this.#exitCode === null;
  }

  /** Releases the object; throws while it is still running. */
  close(): void {
    if (this.#closed) return;
    if (this.isAlive()) throw new Error(`${this.#name}: cannot close a ${this.#kind.toLowerCase()} while it is still running; join or terminate it first`);
    this.#closed = true;
  }

  /** null before start and while running; the exit code after (minus the signal number after a signal, for a process). Throws once closed, as Python. */
  get exitCode(): number | null {
    this.checkOpen();
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
