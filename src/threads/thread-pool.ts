import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, type ResourceLimits } from 'node:worker_threads';
import { spawnThread, stopSpawnedThread } from './spawn-thread.js';
import { describe } from '../futures/future.js';
import { asPoolOptions, checkPoolOptions, PoolExecutor, type PoolOptions, type WorkerEvents, type WorkerHandle } from '../pool/pool-executor.js';
import type { WorkerInit } from '../pool/worker-runtime.js';
import type { TaskOptions } from '../futures/executor.js';
import { argsForThread } from '../transport/crossing.js';
import { THREAD_BOOTSTRAP, threadEntry } from './bootstrap.js';
import { sendingData } from '../sync/views.js';
import { STOP } from '../transport/protocol.js';

/** Options of a ThreadPoolExecutor. */
export interface ThreadPoolOptions extends PoolOptions {
  /** Heap limits for each worker thread; a worker past them ends and its task fails with WorkerCrashedError. */
  resourceLimits?: ResourceLimits;
  /** Node flags for the worker threads. @default process.execArgv (so tsx and other loaders carry over) */
  execArgv?: string[];
  /** Environment of the worker threads. @default process.env */
  env?: NodeJS.ProcessEnv;
}

const ENTRY = threadEntry('worker-entry');
let poolCount = 0;

/**
 * Runs tasks on a pool of worker threads: concurrent.futures.ThreadPoolExecutor, with
 * true parallelism since each worker has its own JS heap and event loop.
 */
export class ThreadPoolExecutor extends PoolExecutor {
  protected readonly workerKind = 'thread';
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #execArgv: string[] | undefined;
  readonly #env: NodeJS.ProcessEnv | undefined;
  readonly #index = poolCount++;
  #spawned = 0;

  /** `options`, or the number of workers alone (as Python's `ThreadPoolExecutor(4)`). */
  constructor(given: ThreadPoolOptions | number = {}) {
    const options = asPoolOptions(given);
    checkPoolOptions(options, ['resourceLimits', 'execArgv', 'env'], 'ThreadPoolExecutor');
    if (options.resourceLimits !== undefined && (options.resourceLimits === null || typeof options.resourceLimits !== 'object')) {
      throw new TypeError(`resourceLimits must be an object, got ${describe(options.resourceLimits)}`);
    }
    if (options.execArgv !== undefined && !Array.isArray(options.execArgv)) {
      throw new TypeError(`execArgv must be an array of strings, got ${describe(options.execArgv)}`);
    }
    super(options, availableParallelism());
    this.#resourceLimits = options.resourceLimits;
    this.#execArgv = options.execArgv;
    this.#env = options.env;
  }

  /** Pipe ends travel to the worker by moving their ports (the end here is closed); primitives share their memory. */
  protected crossArgs(args: unknown[], options: TaskOptions): { args: unknown[]; options: TaskOptions } {
    const moved = argsForThread(args);
    return { args: moved.args, options: { ...options, transfer: [...(options.transfer ?? []), ...moved.transfer] } };
  }

  protected spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle {
    // Results come back on a port of their own rather than the worker's parentPort: a
    // port can be polled without the event loop (see PoolExecutor's result spin).
    const { port1: results, port2: resultsPort } = new MessageChannel();
    const worker = spawnThread(THREAD_BOOTSTRAP, {
      eval: true,
      workerData: { ...init, entry: ENTRY, resultsPort },
      transferList: [resultsPort],
      resourceLimits: this.#resourceLimits,
      execArgv: this.#execArgv,
      env: this.#env,
      name: `ThreadPoolExecutor-${this.#index}_${this.#spawned++}`, // Python's names, for currentThread()
    });
    const poll = (): unknown[] | undefined => receiveMessageOnPort(results)?.message as unknown[] | undefined;
    results.on('message', events.message);
    worker.on('error', events.error);
    worker.on('exit', (code) => {
      // parentPort would be drained before 'exit'; our own port is not: what the worker
      // sent before it ended (a result, then a crash) must count before the crash does.
      for (let msg = poll(); msg !== undefined; msg = poll()) events.message(msg);
      results.close();
      events.exit(code, null);
    });
    return {
      post: (message, transfer) => sendingData(message, (m) => worker.postMessage(m, transfer)),
      poll,
      terminate: () => void stopSpawnedThread(worker),
      stop: () => worker.postMessage([STOP]),
      ref: () => {
        worker.ref();
        results.ref();
      },
      unref: () => {
        worker.unref();
        results.unref();
      },
    };
  }
}
