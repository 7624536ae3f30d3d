import { Worker } from 'node:worker_threads';

/**
 * Makes this child process end when its parent does, however the parent ends.
 *
 * The IPC channel closing ('disconnect') covers a parent that exits or is killed while
 * this process's event loop is free. A task in a long synchronous loop never sees that
 * event, so a small watchdog thread also checks the parent pid every 250 ms and kills
 * this process once the parent is gone: no orphan outlives its parent by more than
 * about a quarter of a second, even mid-computation.
 */
export function dieWithParent(parentPid: number): void {
  if (process.ppid !== parentPid) process.exit(1); // the parent died before we started
  process.on('disconnect', () => process.exit(1));
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => { if (process.ppid !== workerData.parent) process.kill(workerData.self, 'SIGKILL'); }, 250);`,
    { eval: true, workerData: { parent: parentPid, self: process.pid }, name: 'concur parent watchdog', stdout: false, stderr: false },
  );
  watchdog.unref();
}
