/**
 * What concur leaves on disk while it runs (socket directories, ring files on /dev/shm)
 * goes however the process ends: on a normal exit, on process.exit(), on an uncaught
 * error, and on SIGINT, SIGTERM and SIGHUP, after which Node would otherwise die at once
 * without running 'exit' listeners. SIGKILL and crashes leave them; the next concur
 * program sweeps those (see leftovers.ts).
 *
 * On one of those signals, if concur's handler is the only listener for it, the
 * cleanups run and the signal is raised again with no listener left, so the program
 * dies by that signal (exit status 128 + n, as a shell sees it) as a program that did
 * not catch it would. A program (or a command line) with its own handler keeps control:
 * concur does nothing then, since the program may go on using what would be removed;
 * its exit, when it comes, runs the cleanups.
 *
 * The signal listeners are installed only while something is registered. Like any JS
 * signal listener, they run when the main thread's event loop is free: a main thread
 * blocked in a synchronous loop meanwhile takes the signal when it returns to it.
 */
import { isMainThread } from 'node:worker_threads';

/** The signals after which concur cleans up before the process dies. */
export const CLEANUP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const cleanups = new Set<() => void>();
let exitHooked = false;
let signalsHooked = false;

/**
 * Runs `cleanup` once when the process ends (see above), unless the returned function
 * is called first. `cleanup` must be synchronous and quick; what it throws is ignored.
 */
export function onExitCleanup(cleanup: () => void): () => void {
  // A function registered twice would run once: wrap it so each registration is its own.
  const entry = (): void => cleanup();
  cleanups.add(entry);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', runExitCleanups);
  }
  hookSignals(true);
  return () => {
    cleanups.delete(entry);
    if (cleanups.size === 0) hookSignals(false);
  };
}

/** Runs every registered cleanup now, once each (they are unregistered as they run). */
export function runExitCleanups(): void {
  for (const entry of [...cleanups]) {
    cleanups.delete(entry);
    try {
      entry();
    } catch {
      // a cleanup that fails must not stop the others, nor the exit
    }
  }
  hookSignals(false);
}

/** How many cleanups are registered (for tests). */
export function pendingExitCleanups(): number {
  return cleanups.size;
}

function hookSignals(on: boolean): void {
  // Signals reach only the main thread's listeners; a worker's cleanups run on its 'exit'.
  if (on === signalsHooked || !isMainThread) return;
  signalsHooked = on;
  for (const signal of CLEANUP_SIGNALS) {
    if (on) process.on(signal, onSignal);
    else process.removeListener(signal, onSignal);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the program handles it: it keeps control
  runExitCleanups(); // also removes these listeners
  if (process.listenerCount(signal) > 0) return; // a cleanup added a listener: leave it in charge
  // With no listener left, Node restores the default action: the process dies by it.
  process.kill(process.pid, signal);
}
