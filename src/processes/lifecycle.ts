import { Worker } from 'node:worker_threads';
import { native } from '../sync/shm.js';

/** How often the watchdog looks at the parent pid, in ms. */
const WATCH_MS = 250;

/**
 * Makes this child process end when its parent does, however the parent ends.
 *
 * The IPC channel closing ('disconnect') covers a parent that exits or is killed while
 * this process's event loop is free. A task in a long synchronous loop never sees that
 * event, so a small watchdog thread also checks the parent pid every 250 ms and kills
 * this process once the parent is gone: no orphan outlives its parent by more than
 * about a quarter of a second, even mid-computation.
 *
 * The watchdog is the native part's plain thread where it is built (it starts at once);
 * otherwise a Worker, whose boot took ~150 ms and as much CPU on the 2-core machine: a
 * child that took tasks meanwhile ran its first ones beside that boot, up to twice as
 * slow, so the child says it is ready only once the watchdog runs.
 */
export function dieWithParent(parentPid: number): Promise<void> {
  if (process.ppid !== parentPid) process.exit(1); // the parent died before we started
  process.on('disconnect', () => process.exit(1));
  // A send into the socket of a parent that is gone (EPIPE) is emitted as 'error' on
  // process, before 'disconnect' can run: with no listener, every busy child printed an
  // "Unhandled 'error' event" stack. Only IPC emits 'error' on process, and a failed IPC
  // write means the parent cannot hear from us again: end as on 'disconnect', quietly.
  process.on('error', () => process.exit(1));
  if (native?.watchParent !== undefined) {
    native.watchParent(parentPid, WATCH_MS);
    return Promise.resolve();
  }
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => { if (process.ppid !== workerData.parent) process.kill(workerData.self, 'SIGKILL'); }, workerData.ms);`,
    { eval: true, workerData: { parent: parentPid, self: process.pid, ms: WATCH_MS }, name: 'concur parent watchdog', stdout: false, stderr: false },
  );
  watchdog.unref();
  return new Promise((resolve) => {
    watchdog.once('online', resolve);
    watchdog.once('error', () => resolve()); // no watchdog then; the 'disconnect' handler still stands
  });
}
