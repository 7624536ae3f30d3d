import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import type { FunctionSpec } from '../tasks/describe.js';
import { loadFunction } from '../tasks/load.js';
import { defineTasks } from '../tasks/registry.js';

/** What one item of a chunk came to: [line, ok, result or error message, microseconds]. */
export type Outcome = [line: number, ok: boolean, value: unknown, us: number];

const loaded = new Map<string, Promise<Function>>();

/**
 * The task the `concur map` command runs in every worker: the user's task over a chunk
 * of [line, input] pairs. Each item's error is caught and reported on its own, so one
 * bad item never costs the rest of its chunk.
 */
export const cliTasks = defineTasks(import.meta.url, {
  async applyChunk(spec: FunctionSpec, items: Array<[number, unknown]>, retries: number): Promise<Outcome[]> {
    const key = `${spec.kind === 'module' ? spec.module : spec.source}#${spec.name}`;
    let fnP = loaded.get(key);
    if (fnP === undefined) loaded.set(key, (fnP = loadFunction(spec)));
    const fn = await fnP;
    const out: Outcome[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const [line, input] = items[i]!;
      const t0 = performance.now();
      for (let attempt = 0; ; attempt++) {
        try {
          let value = fn(input);
          if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') value = await value;
          out[i] = [line, true, value, (performance.now() - t0) * 1000];
          break;
        } catch (err) {
          if (attempt < retries) continue;
          out[i] = [line, false, err instanceof Error ? `${err.name}: ${err.message}` : String(err), (performance.now() - t0) * 1000];
          break;
        }
      }
    }
    return out;
  },
});
