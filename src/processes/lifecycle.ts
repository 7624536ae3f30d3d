import { Worker } from 'node:worker_threads';

/**
 * Makes this child process end when its parent does, however the parent ends.
 *
 * The IPC channel closing ('disconnect') covers a parent that exits or is killed while
 * this process's event loop is free. A task in a long synchronous loop never sees that
 * event, so a small watchdog thread also checks the parent pid every 250 ms and kills
 * this process once the parent is gone: no orphan outlives its parent by more than
 * about a quarter of a second, even mid-computation.
 *
 * Resolves once the watchdog runs. Booting a thread costs ~15 ms of CPU: a child
 * that took tasks meanwhile ran its first ones beside that boot, up to twice as slow
 * on a 2-core machine, so the child says it is ready only after.
 */
export function dieWithParent(parentPid: number): Promise<void> {
  if (process.ppid !== parentPid) process.exit(1); // the parent died before we started
  process.on('disconnect', () => process.exit(1));
  // A send into the socket of a parent that is gone (EPIPE) is emitted as 'error' on
  // process, before 'disconnect' can run: with no listener, every busy child printed an
  // "Unhandled 'error' event" stack. Only IPC emits 'error' on process, and a failed IPC
  // write means the parent cannot hear from us again: end as on 'disconnect', quietly.
  process.on('error', () => process.exit(1));
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => { if (process.ppid !== workerData.parent) process.kill(workerData.self, 'SIGKILL'); }, 250);`,
    { eval: true, workerData: { parent: parentPid, self: process.pid }, name: 'concur parent watchdog', stdout: false, stderr: false },
  );
  watchdog.unref();
  return new Promise((resolve) => {
    watchdog.once('online', resolve);
    watchdog.once('error', () => resolve()); // no watchdog then; the 'disconnect' handler still stands
  });
}
