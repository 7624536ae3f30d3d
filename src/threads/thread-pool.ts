import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { describe } from '../futures/future.js';
import { checkPoolOptions, PoolExecutor, type PoolOptions, type WorkerEvents, type WorkerHandle } from '../pool/pool-executor.js';
import type { WorkerInit } from '../pool/worker-runtime.js';

/** Options of a ThreadPoolExecutor. */
export interface ThreadPoolOptions extends PoolOptions {
  /** Heap limits for each worker thread; a worker past them ends and its task fails with WorkerCrashedError. */
  resourceLimits?: ResourceLimits;
  /** Node flags for the worker threads. @default process.execArgv (so tsx and other loaders carry over) */
  execArgv?: string[];
  /** Environment of the worker threads. @default process.env */
  env?: NodeJS.ProcessEnv;
}

// Run from TypeScript sources (tests, tsx), the entry is the .ts beside this file.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(`./worker-entry${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url).href;

// Workers start from this script, not from a file: Node 20 does not apply a parent's
// `--import tsx` to worker threads, so when concur itself runs from TypeScript the
// worker registers tsx before it imports its entry. Compiled, it imports the entry.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { pathToFileURL, fileURLToPath } = require('node:url');
(async () => {
  if (workerData.entry.endsWith('.ts')) {
    const api = require.resolve('tsx/esm/api', { paths: [fileURLToPath(workerData.entry)] }).replace(/\\.cjs$/, '.mjs');
    (await import(pathToFileURL(api).href)).register();
    globalThis[Symbol.for('concur.tsxRegistered')] = true;
  }
  await import(workerData.entry);
})().catch((error) => process.nextTick(() => { throw error; }));
`;

/**
 * Runs tasks on a pool of worker threads: concurrent.futures.ThreadPoolExecutor, with
 * true parallelism since each worker has its own JS heap and event loop.
 */
export class ThreadPoolExecutor extends PoolExecutor {
  protected readonly workerKind = 'thread';
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #execArgv: string[] | undefined;
  readonly #env: NodeJS.ProcessEnv | undefined;

  constructor(options: ThreadPoolOptions = {}) {
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

  protected spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle {
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { ...init, entry: ENTRY },
      resourceLimits: this.#resourceLimits,
      execArgv: this.#execArgv,
      env: this.#env,
      name: 'concur worker',
    });
    worker.on('message', events.message);
    worker.on('error', events.error);
    worker.on('exit', (code) => events.exit(code, null));
    return {
      post: (message, transfer) => worker.postMessage(message, transfer),
      terminate: () => void worker.terminate(),
      ref: () => worker.ref(),
      unref: () => worker.unref(),
    };
  }
}
