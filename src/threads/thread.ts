import { Worker } from 'node:worker_threads';
import type { TaskFunction } from '../futures/executor.js';
import { checkTimeout, describe } from '../futures/future.js';
import { specOf } from '../tasks/describe.js';
import { argsForThread } from '../transport/crossing.js';
import { THREAD_BOOTSTRAP, threadEntry } from './bootstrap.js';

/** Options of a Thread: the same shape as a Process's. */
export interface ThreadOptions<A extends unknown[]> {
  /** The function to run: a defineTasks task or a self-contained function. */
  target: TaskFunction<A, unknown>;
  /** Its arguments: structured-cloned; SharedArrayBuffers are shared, Pipe ends move. */
  args?: A;
  /** @default 'Thread-N' */
  name?: string;
  /** A daemon thread does not keep the program alive. @default false */
  daemon?: boolean;
}

let counter = 0;

/**
 * A function running on a worker thread of its own: threading.Thread with the
 * interface of Process. The thread has its own heap; memory is shared only through
 * SharedArrayBuffers (and the primitives built on them).
 */
export class Thread<A extends unknown[] = unknown[]> {
  readonly #target: TaskFunction<A, unknown>;
  readonly #args: A;
  #name: string;
  #daemon: boolean;
  #worker: Worker | undefined;
  #exitCode: number | null = null;
  #exited: Promise<void> | undefined;
  #closed = false;

  constructor(options: ThreadOptions<A>) {
    if (options === null || typeof options !== 'object') throw new TypeError(`Thread options must be an object, got ${describe(options)}`);
    if (typeof options.target !== 'function') throw new TypeError(`target must be a function, got ${describe(options.target)}`);
    if (options.args !== undefined && !Array.isArray(options.args)) throw new TypeError(`args must be an array, got ${describe(options.args)}`);
    this.#target = options.target;
    this.#args = (options.args ?? []) as A;
    this.#name = options.name ?? `Thread-${++counter}`;
    this.#daemon = options.daemon ?? false;
  }

  /** Starts the thread. Throws if started before, or closed. */
  start(): this {
    if (this.#closed) throw new Error(`${this.#name}: the thread object is closed`);
    if (this.#worker !== undefined) throw new Error(`${this.#name}: threads can only be started once`);
    const target = specOf(this.#target);
    const { args, transfer } = argsForThread(this.#args);
    const worker = new Worker(THREAD_BOOTSTRAP, {
      eval: true,
      name: this.#name,
      workerData: { entry: threadEntry('thread-entry'), target, args },
      transferList: transfer,
    });
    this.#worker = worker;
    this.#exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        this.#exitCode = code;
        resolve();
      });
    });
    // An uncaught error is printed and ends the thread with exit code 1, as Python reports it.
    worker.on('error', (err) => console.error(`Exception in thread ${this.#name}:`, err));
    if (this.#daemon) worker.unref();
    return this;
  }

  /** Waits until the thread ends, or until `timeout` ms pass. */
  async join(timeout?: number): Promise<void> {
    checkTimeout(timeout);
    if (this.#exited === undefined) throw new Error(`${this.#name}: cannot join a thread before it is started`);
    // Someone is waiting for it: even a daemon thread keeps the program alive meanwhile.
    if (this.isAlive()) this.#worker!.ref();
    if (timeout === undefined) return this.#exited;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#exited, new Promise<void>((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    if (this.#daemon && this.isAlive()) this.#worker!.unref();
  }

  /** True from `start()` until the thread has ended. */
  isAlive(): boolean {
    return this.#worker !== undefined && this.#exitCode === null;
  }

  /** Stops the thread, even inside a synchronous loop. */
  terminate(): void {
    void this.#worker?.terminate();
  }

  /** Same as terminate(): a thread has no gentler signal. */
  kill(): void {
    this.terminate();
  }

  /** Releases the Thread; throws while it is still running. */
  close(): void {
    if (this.isAlive()) throw new Error(`${this.#name}: cannot close a thread while it is still running`);
    this.#closed = true;
  }

  /** The worker's threadId, once started. */
  get ident(): number | undefined {
    return this.#worker?.threadId;
  }

  /** null until the thread ends; then 0, or 1 after an uncaught error. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** The name given, or 'Thread-N'. */
  get name(): string {
    return this.#name;
  }
  set name(value: string) {
    this.#name = String(value);
  }

  /** Whether the thread keeps the program alive; settable until `start()`. */
  get daemon(): boolean {
    return this.#daemon;
  }
  set daemon(value: boolean) {
    if (this.#worker !== undefined) throw new Error(`${this.#name}: cannot set daemon after start()`);
    this.#daemon = Boolean(value);
  }
}
