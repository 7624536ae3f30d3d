import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import type { FunctionSpec } from '../tasks/describe.js';
import { loadFunction } from '../tasks/load.js';
import { defineTasks } from '../tasks/registry.js';
import { Turns } from '../util/turns.js';
import { taskSignal } from '../coroutines/async-executor.js';

/**
 * What one item of a chunk came to: [line, ok, text, microseconds]. When ok, text is the
 * result already written as JSON; otherwise it is why the item failed.
 */
export type Outcome = [line: number, ok: boolean, text: string, us: number];

const loaded = new Map<string, Promise<Function>>();

/** Why something failed, as one line of text, even from a thrown value whose toString throws. */
export function reason(err: unknown): string {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}

/**
 * The result as JSON text, or why it has none. Encoding here, where the result was made,
 * means a result JSON cannot write (a BigInt, a cycle, a function) fails its own item
 * only, and what crosses back from a worker is always a string, which every channel can
 * carry: no result can fail the structured clone and take its whole chunk with it.
 */
function encode(value: unknown): [ok: boolean, text: string] {
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value);
  } catch (err) {
    return [false, `the result cannot be written as JSON: ${reason(err)}`];
  }
  // JSON.stringify gives undefined for what it leaves out of an object (a function, a
  // symbol, a toJSON returning undefined): the line would lose its result silently.
  if (text === undefined) return [false, `the result cannot be written as JSON: it is a ${typeof value}`];
  return [true, text];
}

let printsToStderr = false;

/**
 * From now on, what this thread writes to `process.stdout` (a task's console.log) goes to
 * stderr: the command's stdout carries its result lines, which a task's print would
 * corrupt. The command calls it in its own thread (the async pool runs tasks there) after
 * keeping stdout's own write for the results (see output.ts); a worker, on its first chunk.
 */
export function tasksPrintToStderr(): void {
  if (printsToStderr) return;
  printsToStderr = true;
  const stderr = process.stderr;
  process.stdout.write = function write(this: unknown, ...args: unknown[]): boolean {
    return (stderr.write as (...a: unknown[]) => boolean).apply(stderr, args);
  } as typeof process.stdout.write;
}

/**
 * The async pool runs chunks in the command's own thread, and every chunk begins by
 * awaiting its task's module: the first chunks resume together, and a synchronous task
 * then held Ctrl-C off for 64 of its items. Each item takes its turn (see Turns), so the
 * command hears a signal between any two items of more than a few ms.
 */
const turns = new Turns();
let stoppedHere = false;

/**
 * The command was stopped (true): chunks running in this thread (the async pool's) run
 * no further item, and fail, which the command counts as not run. A run that starts
 * sets it back (false), should one process run the command again.
 */
export function stopItemsHere(stopped = true): void {
  stoppedHere = stopped;
}

/**
 * The task the `concur map` command runs in every worker: the user's task over a chunk
 * of [line, input] pairs. Each item's error is caught and reported on its own, so one
 * bad item never costs the rest of its chunk.
 */
export const cliTasks = defineTasks(import.meta.url, {
  async applyChunk(spec: FunctionSpec, items: Array<[number, unknown]>, retries: number): Promise<Outcome[]> {
    tasksPrintToStderr(); // before the user's module loads: its top level may print too
    const key = `${spec.kind === 'module' ? spec.module : spec.source}#${spec.name}`;
    let fnP = loaded.get(key);
    if (fnP === undefined) loaded.set(key, (fnP = loadFunction(spec)));
    const fn = await fnP;
    const out: Outcome[] = new Array(items.length);
    // One clock reading between two items: the end of one is the start of the next.
    let now = performance.now();
    // False after an await: the chunk comes back to the turn as a newcomer.
    let continuing = false;
    for (let i = 0; i < items.length; i++) {
      const [line, input] = items[i]!;
      const wait = turns.take(now, continuing);
      continuing = true;
      if (wait !== undefined) {
        await wait;
        now = performance.now();
      }
      if (stoppedHere) throw new Error('the command was stopped');
      // On the async pool a chunk that timed out is abandoned, not stopped (a coroutine
      // cannot be): told by its signal, it runs no further item beside the chunks after it.
      const signal = taskSignal();
      if (signal?.aborted) throw signal.reason;
      const t0 = now;
      for (let attempt = 0; ; attempt++) {
        try {
          let value = fn(input);
          if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
            continuing = false; // back from an await, resolved or rejected: a newcomer to the turn
            value = await value;
          }
          const [ok, text] = encode(value);
          out[i] = [line, ok, text, ((now = performance.now()) - t0) * 1000];
          break;
        } catch (err) {
          if (attempt < retries) continue;
          out[i] = [line, false, reason(err), ((now = performance.now()) - t0) * 1000];
          break;
        }
      }
    }
    return out;
  },
});
