import { AsyncExecutor } from '../coroutines/async-executor.js';
import type { Executor } from '../futures/executor.js';
import type { WorkerHandle, WorkerEvents } from '../pool/pool-executor.js';
import type { WorkerInit } from '../pool/worker-runtime.js';
import { ProcessPoolExecutor } from '../processes/process-pool.js';
import { ThreadPoolExecutor } from '../threads/thread-pool.js';
import { UsageError } from './usage-error.js';

/** The pool kinds `--pool` takes. */
export const POOL_KINDS = ['async', 'thread', 'process'] as const;

/** An executor for `concur map`, and a way to end all its work at once. */
export interface MapPool {
  executor: Executor;
  /**
   * Kills every worker, running tasks included, and resolves once each has exited (none
   * is left to outlive the command). Their Futures fail; new workers the pool starts
   * meanwhile are killed as they start. Coroutines of the async pool cannot be killed:
   * nothing to wait for there, they end with the process.
   */
  stop(): Promise<void>;
}

/**
 * The workers of one pool, as the pool started them. `shutdown({ cancelFutures })` lets
 * running tasks finish, which for a slow task is not what Ctrl-C asks for; the pool has
 * no public way to kill them yet (CPython 3.14 added terminate_workers for this), so the
 * command's pools keep the handles their spawnWorker hook returns and end them here.
 */
class Workers {
  readonly #live = new Map<WorkerHandle, Promise<void>>();
  #stopping = false;

  /** Starts a worker through `spawn` and tracks it until its exit. */
  track(events: WorkerEvents, spawn: (events: WorkerEvents) => WorkerHandle): WorkerHandle {
    let exited!: () => void;
    const gone = new Promise<void>((resolve) => (exited = resolve));
    const handle: WorkerHandle = spawn({
      ...events,
      exit: (code, signal) => {
        this.#live.delete(handle);
        exited();
        events.exit(code, signal);
      },
    });
    this.#live.set(handle, gone);
    // A stopped pool may still start a worker for a task a killed one held: it dies before
    // it is ready, which breaks the pool, so the pool starts no more and fails what is left.
    if (this.#stopping) handle.terminate();
    return handle;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    while (this.#live.size > 0) {
      const live = [...this.#live];
      for (const [handle] of live) handle.terminate();
      await Promise.all(live.map(([, gone]) => gone));
    }
  }
}

class MapProcessPool extends ProcessPoolExecutor {
  readonly workers = new Workers();
  protected override spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle {
    return this.workers.track(events, (tracked) => super.spawnWorker(init, tracked));
  }
}

class MapThreadPool extends ThreadPoolExecutor {
  readonly workers = new Workers();
  protected override spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle {
    return this.workers.track(events, (tracked) => super.spawnWorker(init, tracked));
  }
}

/** The executor `--pool` names, with `--workers` workers (or coroutines, for async). */
export function makePool(kind: string, workers: number | undefined): MapPool {
  switch (kind) {
    case 'async':
      return { executor: new AsyncExecutor({ maxConcurrency: workers ?? 64 }), stop: () => Promise.resolve() };
    case 'thread': {
      const pool = new MapThreadPool(workers === undefined ? {} : { maxWorkers: workers });
      return { executor: pool, stop: () => pool.workers.stop() };
    }
    case 'process': {
      const pool = new MapProcessPool(workers === undefined ? {} : { maxWorkers: workers });
      return { executor: pool, stop: () => pool.workers.stop() };
    }
    default:
      throw new UsageError(`--pool must be one of ${POOL_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
}
