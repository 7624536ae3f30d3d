import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// Shared with the worker bootstrap, which registers tsx itself before it loads any .ts.
const REGISTERED = Symbol.for('concur.tsxRegistered');

/** True for a module URL or path of a TypeScript file. */
export function isTypeScriptModule(module: string): boolean {
  return /\.[cm]?tsx?$/.test(module.startsWith('file:') ? new URL(module).pathname : module);
}

/**
 * Makes this thread able to import TypeScript by registering tsx's ESM hooks, found
 * from `near` (the task module) or the working directory. Node 20 does not carry a
 * parent's `--import tsx` into worker threads, so a .ts task module would otherwise
 * fail there with ERR_UNKNOWN_FILE_EXTENSION. Returns false when tsx is not installed.
 */
export async function ensureTypeScript(near: string): Promise<boolean> {
  const g = globalThis as Record<symbol, unknown>;
  if (g[REGISTERED] === true) return true;
  let api: string;
  try {
    const from = near.startsWith('file:') ? near : pathToFileURL(near).href;
    api = resolveFrom(from) ?? resolveFrom(pathToFileURL(`${process.cwd()}/`).href)!;
    if (api === undefined) return false;
  } catch {
    return false;
  }
  const { register } = (await import(pathToFileURL(api.replace(/\.cjs$/, '.mjs')).href)) as { register(): unknown };
  register();
  g[REGISTERED] = true;
  return true;
}

function resolveFrom(from: string): string | undefined {
  try {
    return createRequire(from).resolve('tsx/esm/api');
  } catch {
    return undefined;
  }
}
