import { Worker, type WorkerOptions } from 'node:worker_threads';
import { LIFE_TABLE_KEY, lifeTableBuffer, markThreadDead, registerThread, stopThread } from '../sync/thread-life.js';
import { THREAD_INFO_KEY, type ThreadSetup } from './current-thread.js';
import { directStdio } from './direct-stdio.js';
import { endOrphans, OWNED_KEY, ownedForThread } from '../processes/thread-owned.js';

/**
 * Starts a worker thread that concur can later stop safely: it shares the process's
 * thread-life table (see src/sync/thread-life.ts), is registered there, and is marked
 * dead when it exits. It learns its name (currentThread) and whether to write its output
 * itself (direct-stdio.ts). `workerData` must be an object.
 */
export function spawnThread(filename: string, options: WorkerOptions & { workerData: object }): Worker {
  const about: ThreadSetup = { name: options.name ?? 'Thread', stdio: directStdio() };
  const worker = new Worker(filename, {
    ...options,
    workerData: { ...options.workerData, [LIFE_TABLE_KEY]: lifeTableBuffer(), [THREAD_INFO_KEY]: about, [OWNED_KEY]: ownedForThread() },
  });
  const tid = worker.threadId;
  registerThread(tid);
  worker.once('exit', () => {
    markThreadDead(tid);
    // A thread stopped from outside could not wait for its child processes, nor reap them.
    endOrphans(tid);
  });
  return worker;
}

/** Terminates a thread spawnThread started, never inside one of concur's internal critical sections. */
export function stopSpawnedThread(worker: Worker): Promise<number> {
  // threadId reads -1 once the thread has exited: then there is nothing to stop.
  if (worker.threadId >= 0) stopThread(worker.threadId);
  return worker.terminate();
}
