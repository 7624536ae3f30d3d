import { Worker, type WorkerOptions } from 'node:worker_threads';
import { LIFE_TABLE_KEY, lifeTableBuffer, markThreadDead, registerThread, stopThread } from '../sync/thread-life.js';

/**
 * Starts a worker thread that concur can later stop safely: it shares the process's
 * thread-life table (see src/sync/thread-life.ts), is registered there, and is marked
 * dead when it exits. `workerData` must be an object.
 */
export function spawnThread(filename: string, options: WorkerOptions & { workerData: object }): Worker {
  const worker = new Worker(filename, { ...options, workerData: { ...options.workerData, [LIFE_TABLE_KEY]: lifeTableBuffer() } });
  const tid = worker.threadId;
  registerThread(tid);
  worker.once('exit', () => markThreadDead(tid));
  return worker;
}

/** Terminates a thread spawnThread started, never inside one of concur's internal critical sections. */
export function stopSpawnedThread(worker: Worker): Promise<number> {
  // threadId reads -1 once the thread has exited: then there is nothing to stop.
  if (worker.threadId >= 0) stopThread(worker.threadId);
  return worker.terminate();
}
