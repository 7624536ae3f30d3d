import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { findTsxApi } from '../util/tsx-loader.js';

// Shared with the worker bootstrap, which registers tsx itself before it loads any .ts.
const REGISTERED = Symbol.for('concur.tsxRegistered');

/** True for a module URL or path of a TypeScript file. */
export function isTypeScriptModule(module: string): boolean {
  return /\.[cm]?tsx?$/.test(module.startsWith('file:') ? new URL(module).pathname : module);
}

/**
 * Makes this thread able to import TypeScript by registering tsx's ESM hooks: the tsx
 * the program runs under, else one found from `near` (the task module) or the working
 * directory (see findTsxApi). Node 20 does not carry a parent's `--import tsx` into
 * worker threads, so a .ts task module would otherwise fail there with
 * ERR_UNKNOWN_FILE_EXTENSION. Returns false when there is no tsx to find.
 */
export async function ensureTypeScript(near: string): Promise<boolean> {
  const g = globalThis as Record<symbol, unknown>;
  if (g[REGISTERED] === true) return true;
  const api = findTsxApi(process.execArgv, process.env.NODE_OPTIONS, near, process.cwd(), { createRequire, pathToFileURL });
  if (api === undefined) return false;
  const { register } = (await import(pathToFileURL(api).href)) as { register(): unknown };
  register();
  g[REGISTERED] = true;
  return true;
}
