import { availableParallelism } from 'node:os';
import { describe } from '../futures/future.js';
import { asPoolOptions, checkPoolOptions, PoolExecutor, type PoolOptions, type WorkerEvents, type WorkerHandle } from '../pool/pool-executor.js';
import type { WorkerInit } from '../pool/worker-runtime.js';
import type { TaskOptions } from '../futures/executor.js';
import { Connection } from '../transport/pipe.js';
import { BrokenExecutorError } from '../futures/errors.js';
import { toProxy } from '../proxy/proxies.js';
import { CTRL_RUNNING, CTRL_SEQ, SEQ_UNKNOWN, STOP } from '../transport/protocol.js';
import { checkMayHaveChildren, readExitReport, spawnChild, STATUS_FD } from './spawn.js';
import { own } from './thread-owned.js';
import type { Future } from '../futures/future.js';
import type { TaskFunction } from '../futures/executor.js';
import type { TaskMode } from '../futures/task-mode.js';
import { sendingData } from '../sync/views.js';

let workerCount = 0;

/** Options of a ProcessPoolExecutor. */
export interface ProcessPoolOptions extends PoolOptions {
  /** Node flags for the worker processes. @default process.execArgv (so tsx and other loaders carry over) */
  execArgv?: string[];
  /** Environment of the worker processes. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Replace a worker process whose resident memory passes this many MiB, once its current tasks are done. */
  maxMemoryMb?: number;
}

/**
 * Runs tasks in a pool of child processes: concurrent.futures.ProcessPoolExecutor.
 * Each worker has its own memory and crashes stay inside it. The scheduler is the
 * thread pool's; only the channel differs (structured-clone IPC instead of a port).
 */
export class ProcessPoolExecutor extends PoolExecutor {
  protected readonly workerKind = 'process';
  readonly #execArgv: string[] | undefined;
  readonly #env: NodeJS.ProcessEnv | undefined;
  readonly #maxMemoryMb: number | undefined;

  /** `options`, or the number of workers alone (as Python's `ProcessPoolExecutor(4)`). */
  constructor(given: ProcessPoolOptions | number = {}) {
    const options = asPoolOptions(given);
    checkPoolOptions(options, ['execArgv', 'env', 'maxMemoryMb'], 'ProcessPoolExecutor');
    if (options.execArgv !== undefined && !Array.isArray(options.execArgv)) {
      throw new TypeError(`execArgv must be an array of strings, got ${describe(options.execArgv)}`);
    }
    if (options.maxMemoryMb !== undefined && !(typeof options.maxMemoryMb === 'number' && options.maxMemoryMb > 0)) {
      throw new RangeError(`maxMemoryMb must be a number > 0, got ${describe(options.maxMemoryMb)}`);
    }
    super(options, availableParallelism());
    this.#execArgv = options.execArgv;
    this.#env = options.env;
    this.#maxMemoryMb = options.maxMemoryMb;
  }

  /**
   * Whether the workers are daemonic: multiprocessing.Pool's are (the Pool face sets
   * this), concurrent.futures' are not. A daemonic worker may not start children.
   */
  protected readonly daemonWorkers: boolean = false;

  /** A daemonic process may not start workers, as Python's submit fails starting one there. */
  protected override schedule(fn: TaskFunction, args: unknown[], options: TaskOptions, mode: TaskMode): Future<unknown> {
    checkMayHaveChildren('worker process');
    return super.schedule(fn, args, options, mode);
  }

  /**
   * Stops every worker process now (SIGKILL), as Python 3.14's `terminate_workers()`:
   * the pool shuts down, tasks not started are cancelled, running ones fail with
   * `BrokenExecutorError`, and children the tasks started end with their worker. The way
   * out of a `shutdown()` that waits for a child that never ends. Resolves once every
   * worker has exited.
   */
  terminateWorkers(): Promise<void> {
    return this._terminate(new BrokenExecutorError('the pool\'s workers were terminated (terminateWorkers) while this task ran'));
  }

  /** Shared primitives become proxies served by this process; Pipe ends cannot go to a pool task yet. */
  protected crossArgs(args: unknown[], options: TaskOptions): { args: unknown[]; options: TaskOptions } {
    return {
      args: args.map((a) => {
        if (a instanceof Connection) {
          throw new TypeError('a Pipe end cannot be passed to a process-pool task yet; pass it to a Process, a Thread or a thread-pool task');
        }
        return toProxy(a);
      }),
      options,
    };
  }

  protected spawnWorker(init: WorkerInit, events: WorkerEvents): WorkerHandle {
    const { ctrl, ...rest } = init;
    // A SharedArrayBuffer cannot reach another process: the child reports on exit instead.
    const child = spawnChild(
      { kind: 'pool', init: { ...rest, ctrl: undefined, maxRssMb: this.#maxMemoryMb } },
      // Python's names, for currentProcess() in a worker.
      { execArgv: this.#execArgv, env: this.#env, name: `${this.daemonWorkers ? 'SpawnPoolWorker' : 'SpawnProcess'}-${++workerCount}`, daemon: this.daemonWorkers },
    );
    const report = readExitReport(child);
    // Started in a worker thread: its spawner ends it if that thread is stopped (thread-owned.ts).
    if (child.pid !== undefined) child.once('exit', own(child.pid));
    const shared = new Int32Array(ctrl);
    child.on('message', events.message as (m: unknown) => void);
    child.on('error', events.error);
    // 'close', not 'exit': by then the status pipe has delivered the child's last words.
    // But a grandchild the task started may hold the pipe open long after: so 'close'
    // is awaited at most a moment past 'exit', and no Future waits on a grandchild.
    let reported = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (reported) return;
      reported = true;
      const r = report();
      if (r !== undefined) {
        shared[CTRL_SEQ] = r.seq;
        shared[CTRL_RUNNING] = r.running ? 1 : 0;
      } else {
        shared[CTRL_SEQ] = SEQ_UNKNOWN;
        shared[CTRL_RUNNING] = 1;
      }
      events.exit(code, signal);
    };
    child.on('close', onEnd);
    child.on('exit', (code, signal) => setTimeout(() => onEnd(code, signal), 200).unref());
    // An idle worker must not keep this process alive, so every handle the child holds
    // here follows ref/unref: the process, its IPC channel and its status pipe.
    const handles = (): Array<{ ref?: () => void; unref?: () => void } | null | undefined> => [
      child,
      child.channel as { ref?: () => void; unref?: () => void } | undefined,
      child.stdio[STATUS_FD] as { ref?: () => void; unref?: () => void } | null,
    ];
    const ref = (): void => handles().forEach((h) => h?.ref?.());
    return {
      post: (message) => {
        if (child.connected) sendingData(message, (m) => child.send(m as never));
      },
      terminate: () => {
        ref(); // wait for the exit we asked for
        child.kill('SIGKILL');
      },
      stop: () => {
        ref();
        if (child.connected) child.send([STOP]);
        else child.kill('SIGKILL');
      },
      ref,
      unref: () => handles().forEach((h) => h?.unref?.()),
    };
  }
}
