/** Small helpers of RedisWorker's job processing. */
import { TaskNotFoundError } from '../futures/errors.js';
import type { FunctionSpec } from '../tasks/describe.js';
import type { PortableTask, TaskIndex } from './names.js';

/**
 * How a job being processed is told to stop: an AbortSignal is made only for a task that
 * needs one (a pool task, or one with a timeout). BullMQ's own per-job AbortController, an
 * EventTarget with listeners, cost a tiny job's worker about a twentieth of its CPU, and a
 * coroutine without a timeout is stopped by the AsyncExecutor through onAbort (a TaskStop).
 */
export class JobStop {
  #aborted = false;
  #reason: unknown;
  #controller: AbortController | undefined;
  #listeners: Array<() => void> | undefined;

  /** True once stopped. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it was stopped. */
  get reason(): unknown {
    return this.#reason;
  }

  /** A signal that aborts with it (made on first use). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Stops the job (once), with `reason`. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    for (const fn of listeners ?? []) fn();
  }

  /** Calls `fn` when it is stopped (at once if it is); kept for the job's life, which is short. */
  onAbort(fn: () => void): void {
    if (this.#aborted) fn();
    else (this.#listeners ??= []).push(fn);
  }
}

/** The pool's own errors (a crash, a timeout) name the task it ran, runJob: make them name the job's task. */
export function nameTheTask(err: unknown, label: string): void {
  if (!(err instanceof Error)) return;
  const fix = (s: string): string => s.replace(/task runJob(?: \([^)]*\))?/g, `task ${label}`);
  try {
    if (typeof err.message === 'string' && err.message.includes('runJob')) {
      err.message = fix(err.message);
      if (typeof err.stack === 'string') err.stack = fix(err.stack);
    }
  } catch {
    // a frozen or hostile error goes as it is
  }
}

/**
 * Warns, as a worker with pool 'async' closes, of the job tasks it leaves running in its
 * thread (nothing can stop a coroutine): they may keep the process open, or act after the
 * close. `abandoned`: tasks of jobs aborted or timed out; `late`: tasks still running past closeTimeout.
 */
export function warnOfLeftCoroutines(worker: string, abandoned: number, late: number): void {
  if (abandoned + late === 0) return;
  const what = [
    ...(abandoned > 0 ? [`${abandoned} abandoned coroutine(s): tasks of jobs aborted or timed out that had not ended`] : []),
    ...(late > 0 ? [`${late} job task(s) still running past closeTimeout`] : []),
  ];
  process.emitWarning(`RedisWorker ${worker} closed, leaving in this thread ${what.join('; ')}`, { code: 'CONCUR_ABANDONED_COROUTINES' });
}

/** How errors name a task run on the worker `worker`. */
export function taskLabel(worker: string, task: PortableTask): string {
  return task.kind === 'module' ? `${task.name} (${task.path}) on worker ${worker}` : `inline function ${task.name} on worker ${worker}`;
}

/** Where a job's task is found on this worker (its task modules, `index`), or the error that says why it cannot run here. */
export function taskHere(index: TaskIndex, worker: { readonly name: string; readonly allowInline: boolean }, task: PortableTask): FunctionSpec | Error {
  const { name } = worker;
  if (task.kind === 'module') {
    const module = index.resolve(task.path);
    if (module === undefined) {
      return new TaskNotFoundError(
        `worker ${name} does not serve task ${task.name} from ${task.path}${task.package ? ` (package ${task.package})` : ''}: ` +
          `its task modules are ${index.shown.join(', ')}`,
      );
    }
    return { kind: 'module', module, name: task.name };
  }
  if (!worker.allowInline) {
    return new Error(`worker ${name} does not run inline functions (task ${task.name}): start it with --allow-inline, or define the task with defineTasks`);
  }
  return { kind: 'inline', source: task.source, name: task.name };
}

/**
 * Runs coroutines in this thread, without a timeout (a worker with pool 'async'). Not
 * through the AsyncExecutor: BullMQ's concurrency already bounds the jobs running here,
 * and the executor's Future, its queue record and the timer and immediate it arms every
 * turn a task starts were a tenth of a tiny job's CPU in this process. Without an
 * AbortSignal either, nor the AsyncLocalStorage behind taskSignal() (that slows every
 * promise in the process, BullMQ's and ioredis's included). A job ends when its `stop`
 * aborts, so a coroutine that heeds no abort does not hold its job's slot (with one slot,
 * no later job would run): it is abandoned, and counted until it ends.
 */
export class HereRunner {
  #running = 0;
  #abandoned = 0;

  /** Coroutines running for their jobs. */
  get running(): number {
    return this.#running;
  }

  /** Coroutines whose jobs ended first (aborted), still running. */
  get abandoned(): number {
    return this.#abandoned;
  }

  /** Runs `fn(...args)`; the result settles with it, or rejects with `stop`'s reason once `stop` aborts. */
  run<A extends unknown[], R>(stop: JobStop, fn: (...args: A) => Promise<R>, args: A): Promise<R> {
    if (stop.aborted) return Promise.reject(stop.reason);
    let run: Promise<R>;
    try {
      run = fn(...args);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#running++;
    return new Promise<R>((resolve, reject) => {
      let ended = false;
      const end = (): boolean => {
        if (ended) {
          this.#abandoned--;
          return false;
        }
        ended = true;
        this.#running--;
        return true;
      };
      run.then(
        (value) => void (end() && resolve(value)),
        (err: unknown) => void (end() && reject(err)),
      );
      stop.onAbort(() => {
        if (ended) return;
        ended = true;
        this.#running--;
        this.#abandoned++;
        reject(stop.reason);
      });
    });
  }
}
