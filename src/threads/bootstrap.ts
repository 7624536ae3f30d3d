import { entryUrl } from '../util/entry-url.js';
import { findTsxApi } from '../util/tsx-loader.js';

/** The URL of a worker entry module in this folder (however the package was built). */
export function threadEntry(name: string): string {
  return entryUrl(import.meta.url, 'threads', name);
}

/**
 * Worker threads start from this script, not from a file: Node 20 does not apply a
 * parent's `--import tsx` to worker threads, so when concur itself runs from
 * TypeScript the worker registers tsx (the one the program runs under, see
 * findTsxApi) before it imports its entry. Compiled, it imports the entry directly.
 *
 * It runs as a script or as a module: a worker evaluates it as the program's own input
 * type, and `node --input-type=module -e …` makes that a module. So it uses only what
 * both have (`import()`, no `require`, no `import.meta`).
 */
export const THREAD_BOOTSTRAP = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  if (workerData.entry.endsWith('.ts')) {
    const { createRequire } = await import('node:module');
    const { pathToFileURL } = await import('node:url');
    const find = ${findTsxApi.toString()};
    const api = find(process.execArgv, process.env.NODE_OPTIONS, workerData.entry, process.cwd(), { createRequire, pathToFileURL });
    if (api === undefined) throw new Error('concur runs from its TypeScript sources here, and its worker thread found no tsx to load them with');
    (await import(pathToFileURL(api).href)).register();
    globalThis[Symbol.for('concur.tsxRegistered')] = true;
  }
  await import(workerData.entry);
})().catch((error) => process.nextTick(() => { throw error; }));
`;
