import { threadId, type Worker } from 'node:worker_threads';
import { spawnThread, stopSpawnedThread } from './spawn-thread.js';
import { markRunnableKind, Runnable, type RunHandle, type RunnableOptions } from '../util/runnable.js';
import { argsForThread } from '../transport/crossing.js';
import { THREAD_BOOTSTRAP, threadEntry } from './bootstrap.js';
import { withoutViews } from '../sync/views.js';
import { checkRunArgs, runCloneError } from '../util/run-args.js';

/** Options of a Thread: the same shape as a Process's. */
export type ThreadOptions<A extends unknown[]> = RunnableOptions<A>;

/**
 * A function running on a worker thread of its own: threading.Thread with the
 * interface of Process. The thread has its own heap; memory is shared only through
 * SharedArrayBuffers (and the primitives built on them), which arrive as themselves.
 * It is alive while its target runs, even awaiting a promise that never settles, and
 * until the non-daemon Processes and Threads it started have ended (they would end
 * with its worker otherwise).
 */
export class Thread<A extends unknown[] = unknown[]> extends Runnable<A> {
  #worker: Worker | undefined;
  #ident: number | undefined;
  #terminated = false;

  /** Options with a target; a subclass that overrides run() may pass none (or name, daemon, args...). */
  constructor(options?: ThreadOptions<A>) {
    super(options, 'Thread');
  }

  protected launch(): RunHandle {
    const spec = this.runSpec();
    checkRunArgs('Thread', spec);
    const { args, transfer } = argsForThread(spec.args);
    let worker: Worker;
    try {
      worker = spawnThread(THREAD_BOOTSTRAP, {
        eval: true,
        name: this.name,
        // A view (a namespace's) deeper in an argument crosses as its data too.
        workerData: { entry: threadEntry('thread-entry'), target: spec.target, args: withoutViews(args), fields: spec.fields, daemon: this.daemon },
        transferList: transfer,
      });
    } catch (err) {
      // Probed as given: the markers sent hold ports that clone only in a transfer list.
      throw runCloneError('Thread', spec, spec.args, err);
    }
    this.#worker = worker;
    this.#ident = worker.threadId; // the worker's own reads -1 once it has exited; Python's ident stays
    // Node reports 0 for a worker terminated before it ran any code: terminated is 1, whenever.
    worker.once('exit', (code) => this.ended(this.#terminated && code === 0 ? 1 : code));
    // An uncaught error is printed and ends the thread with exit code 1, as Python reports it.
    worker.on('error', (err) => console.error(`Exception in thread ${this.name}:`, err));
    return { hold: (on) => (on ? worker.ref() : worker.unref()) };
  }

  /** Stops the thread, even inside a synchronous loop. */
  terminate(): void {
    if (this.#worker === undefined || !this.isAlive()) return;
    this.#terminated = true;
    void stopSpawnedThread(this.#worker);
  }

  /** Same as terminate(): a thread has no gentler signal. */
  kill(): void {
    this.terminate();
  }

  /** The worker's threadId, once started (kept after it ends, as Python's). */
  get ident(): number | undefined {
    return this.#ident;
  }

  /** @internal */
  override becameCurrent(): void {
    super.becameCurrent();
    this.#ident = threadId;
  }
}
markRunnableKind(Thread, 'Thread');
