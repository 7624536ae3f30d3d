/**
 * Finding the tsx a thread should register. Node 20 does not run a parent's `--import`
 * hooks in worker threads, so a worker that must import TypeScript registers tsx itself:
 * first the tsx the program runs under, named by a flag the worker inherits
 * (`node --import tsx`, or what the tsx command adds: `--import file:///…/tsx/dist/loader.mjs`),
 * which may be installed globally or in npx's cache rather than in the project; then one
 * installed near the module to import, or near the working directory.
 */

/** What findTsxApi needs from node:module and node:url (passed in: see findTsxApi). */
export interface TsxFinderDeps {
  createRequire(from: string): { resolve(request: string): string };
  pathToFileURL(path: string): { href: string };
}

/**
 * The path of tsx's ESM API module (its `register()` installs the hooks), or undefined
 * when there is no tsx to find. `execArgv` and `nodeOptions` are this thread's Node flags
 * (NODE_OPTIONS is not in execArgv); `near` is a file URL or absolute path.
 *
 * Self-contained on purpose: the thread bootstrap embeds its source (a worker running
 * concur from its .ts sources has no loader yet to import this module with), so it uses
 * no imports, no helpers and no inner functions.
 */
export function findTsxApi(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
  near: string,
  cwd: string,
  deps: TsxFinderDeps,
): string | undefined {
  const fromEnv = nodeOptions?.trim();
  const flags = fromEnv ? [...execArgv, ...fromEnv.split(/\s+/)] : execArgv;
  const cwdUrl = deps.pathToFileURL(cwd.endsWith('/') ? cwd : `${cwd}/`).href;
  const froms: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const m = /^(--import|--require|-r|--loader|--experimental-loader)(?:=(.*))?$/.exec(flags[i]!);
    if (m === null) continue;
    const spec = (m[2] ?? flags[++i] ?? '').replace(/^(["'])(.*)\1$/, '$2');
    // tsx itself (`tsx`, `tsx/esm`) or a file inside a tsx package (…/node_modules/tsx/dist/loader.mjs).
    if (!/(^|[\\/])tsx([\\/]|$)/.test(spec)) continue;
    if (spec.startsWith('file:')) froms.push(spec);
    else if (spec.startsWith('/')) froms.push(deps.pathToFileURL(spec).href);
    else if (spec.startsWith('.')) froms.push(new URL(spec, cwdUrl).href);
    else froms.push(cwdUrl); // a bare name: Node resolved it from the working directory
  }
  froms.push(near.startsWith('file:') ? near : deps.pathToFileURL(near).href, cwdUrl);
  for (const from of froms) {
    try {
      // Resolved from a file inside tsx, 'tsx' is found in the node_modules holding it.
      return deps.createRequire(from).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
    } catch {
      // not from here
    }
  }
  return undefined;
}
