import { isMainThread } from 'node:worker_threads';

// Set by concur's child-process entry before it imports any user module.
const CHILD_KEY = Symbol.for('concur.childProcess');

/** True in the process the user started, false in a concur child process (Python's `parent_process() is None`). */
export function isMainProcess(): boolean {
  return (globalThis as any)[CHILD_KEY] !== true;
}

/** True only in the main thread of the main process: guard a program's entry code with it, as `if __name__ == '__main__'`. */
export function isMain(): boolean {
  return isMainThread && isMainProcess();
}

/** @internal Marks this process as a concur child; called by the child entry. */
export function markChildProcess(): void {
  (globalThis as any)[CHILD_KEY] = true;
}
