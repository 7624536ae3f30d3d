/** threading.current_thread() and time.sleep() for synchronous code. */
import { isMainThread, threadId, workerData } from 'node:worker_threads';
import { checkTimeout, describe } from '../futures/future.js';
import { installDirectStdio, type DirectStdio } from './direct-stdio.js';

/** Where spawnThread puts what a concur thread learns about itself (see threadSetup). */
export const THREAD_INFO_KEY = '$concurThread';

/** What a concur worker thread is told about itself. */
export interface ThreadSetup {
  name: string;
  stdio: DirectStdio;
}

/** Describes a thread: threading.current_thread()'s name and ident, and whether it is the process's main thread. */
export interface ThreadInfo {
  /** 'MainThread' in a process's main thread; a Thread's name; 'ThreadPoolExecutor-P_W' in a thread-pool worker. */
  readonly name: string;
  /** The thread's id in this process (worker_threads.threadId): 0 for the main thread. */
  readonly ident: number;
  /** True in the main thread of this process (Python's `current_thread() is main_thread()`). */
  readonly isMain: boolean;
}

const setup: ThreadSetup | undefined = isMainThread ? undefined : (workerData as Record<string, unknown> | null)?.[THREAD_INFO_KEY] as ThreadSetup | undefined;

/** The thread this code runs in: its name, its ident, and whether it is the main thread. */
export function currentThread(): ThreadInfo {
  return { name: isMainThread ? 'MainThread' : (setup?.name ?? `Thread-${threadId}`), ident: threadId, isMain: isMainThread };
}

/** @internal In a Thread or thread-pool worker's entry, before user code: writes its output directly (see direct-stdio.ts). */
export function setUpThread(): void {
  installDirectStdio(setup?.stdio);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks this thread for `ms` milliseconds (Python's time.sleep in synchronous code),
 * with Atomics.wait: nothing else in this thread runs meanwhile, timers and promises
 * included. In async code use `await sleep(ms)`.
 */
export function sleepSync(ms: number): void {
  if (typeof ms !== 'number') throw new TypeError(`sleepSync: ms must be a number of milliseconds, got ${describe(ms)}`);
  checkTimeout(ms, 'ms');
  const end = performance.now() + ms;
  for (let left = ms; left > 0; left = end - performance.now()) Atomics.wait(sleeper, 0, 0, left);
}
