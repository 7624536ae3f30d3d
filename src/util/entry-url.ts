import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The URL of one of concur's entry files (`threads/worker-entry`, …) relative to the
 * module calling this. Compiled file by file, the caller sits beside the entry; bundled,
 * it sits in dist/ or dist/chunks/. So the candidates are tried in turn, once.
 */
export function entryUrl(from: string, dir: string, name: string): string {
  const ext = from.endsWith('.ts') ? '.ts' : '.js';
  for (const candidate of [`./${name}`, `../${dir}/${name}`, `./${dir}/${name}`]) {
    const url = new URL(`${candidate}${ext}`, from);
    if (existsSync(fileURLToPath(url))) return url.href;
  }
  throw new Error(`concur: cannot find its ${dir}/${name}${ext} next to ${from}; is the package complete?`);
}
