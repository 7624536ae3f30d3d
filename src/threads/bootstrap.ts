import { entryUrl } from '../util/entry-url.js';

/** The URL of a worker entry module in this folder (however the package was built). */
export function threadEntry(name: string): string {
  return entryUrl(import.meta.url, 'threads', name);
}

/**
 * Worker threads start from this script, not from a file: Node 20 does not apply a
 * parent's `--import tsx` to worker threads, so when concur itself runs from
 * TypeScript the worker registers tsx before it imports its entry. Compiled, it
 * imports the entry directly.
 */
export const THREAD_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { pathToFileURL, fileURLToPath } = require('node:url');
(async () => {
  if (workerData.entry.endsWith('.ts')) {
    const api = require.resolve('tsx/esm/api', { paths: [fileURLToPath(workerData.entry)] }).replace(/\\.cjs$/, '.mjs');
    (await import(pathToFileURL(api).href)).register();
    globalThis[Symbol.for('concur.tsxRegistered')] = true;
  }
  await import(workerData.entry);
})().catch((error) => process.nextTick(() => { throw error; }));
`;
