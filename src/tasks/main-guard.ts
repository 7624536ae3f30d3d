import { isMainThread } from 'node:worker_threads';

// Set by concur's child-process entry before it imports any user module.
const CHILD_KEY = Symbol.for('concur.childProcess');
// The task modules this thread is importing; on globalThis, as the task registry, so
// that two copies of concur in one thread agree.
const IMPORTING_KEY = Symbol.for('concur.importingTaskModules');

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

/**
 * @internal Runs `load`, the import of task module `module` (top-level await
 * included), as this child's or worker's bootstrapping phase: what starts a process
 * or a thread meanwhile throws (see checkNotBootstrapping). The main thread of the
 * main process has no such phase: it runs the program.
 */
export async function importingTaskModule<T>(module: string, load: () => Promise<T>): Promise<T> {
  if (isMain()) return load();
  const importing: string[] = ((globalThis as any)[IMPORTING_KEY] ??= []);
  importing.push(module);
  try {
    return await load();
  } finally {
    importing.splice(importing.lastIndexOf(module), 1);
  }
}

/**
 * Throws if this child process or worker thread is still importing a task module, as
 * Python's spawn does: the code starting `what` is the module's top level, which runs
 * again in every child that imports the module, so each would start more.
 */
export function checkNotBootstrapping(what: string): void {
  const importing = (globalThis as any)[IMPORTING_KEY] as string[] | undefined;
  if (importing === undefined || importing.length === 0) return;
  const self = isMainThread ? 'process' : 'worker thread';
  throw new Error(
    `An attempt has been made to start a new ${what} before the current ${self} has finished its bootstrapping phase: ` +
      `it is still importing task module ${importing[importing.length - 1]}, whose top-level code runs again in every ` +
      `process and thread that loads the module to find its tasks. Guard the program's main code with ` +
      "`if (isMain()) { ... }` (import { isMain } from 'concur'), as Python's `if __name__ == '__main__':`.",
  );
}
