import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where a task lives: the module that defines it and its key there. */
export interface TaskRef {
  readonly module: string;
  readonly name: string;
}

interface Registry {
  refs: WeakMap<Function, TaskRef>;
  modules: Map<string, Map<string, Function>>;
}

// On globalThis so that two copies of concur in one thread (say src/ and dist/, or
// two installs) still see one registry: the worker entry must find tasks defined by
// whichever copy the user's task module imported.
const KEY = Symbol.for('concur.taskRegistry');
const registry: Registry = ((globalThis as any)[KEY] ??= { refs: new WeakMap(), modules: new Map() });

/** Turns `import.meta.url`, a file URL or an absolute path into the URL a worker imports. */
export function normalizeModuleUrl(moduleUrl: string): string {
  if (typeof moduleUrl !== 'string' || moduleUrl === '') {
    throw new TypeError(`defineTasks expects the module's URL (import.meta.url) first, got ${String(moduleUrl)}`);
  }
  if (isAbsolute(moduleUrl)) return pathToFileURL(moduleUrl).href;
  try {
    return new URL(moduleUrl).href;
  } catch {
    throw new TypeError(`defineTasks expects import.meta.url or an absolute path, got ${JSON.stringify(moduleUrl)}`);
  }
}

/**
 * Names each function by `moduleUrl` and its key, so a worker can import the module
 * and find it, as Python pickles a function by module and qualified name. Returns
 * the same functions, still callable here; their types carry into `submit`. A class
 * (a Process or Thread subclass that overrides run()) is registered the same way.
 */
export function defineTasks<T extends Record<string, ((...args: any[]) => unknown) | (abstract new (...args: any[]) => unknown)>>(moduleUrl: string, tasks: T): T {
  const module = normalizeModuleUrl(moduleUrl);
  if (tasks === null || typeof tasks !== 'object') throw new TypeError(`defineTasks expects an object of functions, got ${typeof tasks}`);
  let named = registry.modules.get(module);
  if (named === undefined) registry.modules.set(module, (named = new Map()));
  for (const [name, fn] of Object.entries(tasks)) {
    if (typeof fn !== 'function') throw new TypeError(`defineTasks: task "${name}" is a ${typeof fn}, not a function`);
    const existing = named.get(name);
    if (existing !== undefined && existing !== fn) {
      throw new Error(`defineTasks: ${module} already defines a task named "${name}"; task names must be unique within a module`);
    }
    named.set(name, fn);
    registry.refs.set(fn, { module, name });
  }
  return tasks;
}

/** The name of a function given to `defineTasks`, or undefined. */
export function taskRefOf(fn: Function): TaskRef | undefined {
  return registry.refs.get(fn);
}

/** The function `name` that `module` defined, once the module has been imported here. */
export function lookupTask(module: string, name: string): Function | undefined {
  return registry.modules.get(module)?.get(name);
}

/** The names of the tasks `module` defined, in the order it gave them (none before it is imported here). */
export function definedTaskNames(module: string): string[] {
  return [...(registry.modules.get(module)?.keys() ?? [])];
}

/** Whether `module` has called defineTasks in this thread. */
export function moduleDefinedTasks(module: string): boolean {
  return registry.modules.has(module);
}
