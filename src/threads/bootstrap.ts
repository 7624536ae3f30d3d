// Run from TypeScript sources (tests, tsx), entries are the .ts files beside this one.
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** The URL of a worker entry module in this folder. */
export function threadEntry(name: string): string {
  return new URL(`./${name}${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url).href;
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
