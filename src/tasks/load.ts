import { TaskLoadError } from '../futures/errors.js';
import { importingTaskModule, isMain } from './main-guard.js';
import { ensureTypeScript, isTypeScriptModule } from './typescript.js';
import { lookupTask, moduleDefinedTasks } from './registry.js';
import type { FunctionSpec } from './describe.js';

export { TaskLoadError };

/**
 * Resolves a FunctionSpec to a callable in this thread: imports the task module (which
 * registers its tasks as it loads) or compiles inline source. Failures say what to fix.
 */
export async function loadFunction(spec: FunctionSpec): Promise<Function> {
  if (spec.kind === 'inline') return compileInline(spec.source, spec.name);
  await loadTaskModule(spec.module);
  const fn = lookupTask(spec.module, spec.name);
  if (typeof fn === 'function') return fn;
  if (!moduleDefinedTasks(spec.module)) {
    throw new TaskLoadError(`task module ${spec.module} loaded, but it did not call defineTasks(import.meta.url, ...) with that URL`);
  }
  throw new TaskLoadError(`task module ${spec.module} defines no task named "${spec.name}"`);
}

/** Imports task module `module` (a URL) as a worker does, or throws TaskLoadError saying why it cannot load. */
export async function loadTaskModule(module: string): Promise<void> {
  try {
    await importingTaskModule(module, () => importWithTypeScript(module));
  } catch (err) {
    throw new TaskLoadError(`cannot load task module ${module}: ${messageOf(err)}${tsHint(module, err)}`, { cause: err });
  }
}

/** Imports a task module, first giving this thread a TypeScript loader if the module needs one. */
async function importWithTypeScript(module: string): Promise<void> {
  if (isTypeScriptModule(module) && !isMain()) await ensureTypeScript(module);
  await import(module);
}

/**
 * esbuild's keepNames helper, as tsx compiles with it: a named local function or class
 * comes out as `__name(fn, "fn")`, calling a helper that only the sender's module scope
 * had. Defined in the rebuilt function's scope only where its source uses it.
 */
const NAME_HELPER = 'const __name = (target, value) => Object.defineProperty(target, "name", { value, configurable: true });\n';

function compileInline(source: string, name: string): Function {
  const prelude = /\b__name\b/.test(source) ? NAME_HELPER : '';
  let fn: unknown;
  try {
    fn = new Function(`${prelude}return (${source}\n);`)();
  } catch (first) {
    try {
      // Method shorthand (`fib(n) { ... }`) is not an expression; an object literal takes it.
      const holder = new Function(`${prelude}return ({ ${source}\n });`)();
      fn = Object.values(holder)[0];
    } catch {
      throw new TaskLoadError(`cannot compile inline function ${name}: ${messageOf(first)}`, { cause: first });
    }
  }
  if (typeof fn !== 'function') throw new TaskLoadError(`inline function ${name} did not compile to a function`);
  return fn;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function tsHint(module: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && isTypeScriptModule(module)) {
    return ' (a TypeScript task module needs a loader: install tsx, run the program with `node --import tsx`, or submit the compiled .js)';
  }
  return '';
}
