/**
 * The task a Redis worker's local pool runs for every job: it loads the user's task,
 * decodes the arguments, runs it (one call or a chunk), and encodes the result. Decoding
 * and encoding happen here, in the pool's worker, so the worker's main thread (which
 * renews the jobs' locks) does no per-job cloning work, and a result that cannot be
 * cloned fails its own job only. Never imports BullMQ: pool workers stay small.
 */
import '../index.js'; // one shared chunk for the whole library (see scripts/bundle.mjs)
import { CALL, CHUNK_ITEMS } from '../futures/task-mode.js';
import type { FunctionSpec } from '../tasks/describe.js';
import { loadFunction } from '../tasks/load.js';
import { defineTasks } from '../tasks/registry.js';
import { unwrapTransfer } from '../transport/transfer.js';
import { serializeError } from '../transport/errors.js';
import { decodeValue, encodeValue } from './wire.js';

const loaded = new Map<string, Promise<Function>>();

function load(spec: FunctionSpec): Promise<Function> {
  const key = spec.kind === 'module' ? `m:${spec.module}#${spec.name}` : `i:${spec.source}`;
  let fn = loaded.get(key);
  if (fn === undefined) {
    fn = loadFunction(spec);
    loaded.set(key, fn);
    // A module that failed to load may be fixed on disk; try again next time.
    fn.catch(() => loaded.delete(key));
  }
  return fn;
}

/**
 * Runs one task: `fn(...args)` or `fn` over a chunk; returns the encoded result and the
 * milliseconds it ran (loading its module, once per worker, not counted).
 */
async function run(spec: FunctionSpec, args: string, mode: number): Promise<[string, number]> {
  const fn = await load(spec);
  const t0 = performance.now();
  const decoded = decodeValue(args) as unknown[];
  let value: unknown;
  if (mode === CALL) value = await fn(...decoded);
  else {
    const out: unknown[] = [];
    for (const item of decoded) out.push(await (mode === CHUNK_ITEMS ? fn(item) : fn(...(item as unknown[]))));
    value = out;
  }
  const moved = unwrapTransfer(value);
  return [encodeValue(moved === undefined ? value : moved.value, `the result of task ${spec.name}`), performance.now() - t0];
}

/** A pack member's outcome here: 1 and the encoded result, or 0 and its error (serialized); then the ms it ran. */
export type RunOutcome = [ok: 0 | 1, value: unknown, ms: number];

/** The tasks a Redis worker's pool runs. */
export const redisJobTasks = defineTasks(import.meta.url, {
  /** Runs one job; returns the encoded result and the milliseconds the task ran. */
  runJob(spec: FunctionSpec, args: string, mode: number): Promise<[string, number]> {
    return run(spec, args, mode);
  },

  /**
   * Runs a pack's members one after another (they are tiny: in turn, each one's time is
   * its own), each to its own outcome.
   */
  async runPack(specs: FunctionSpec[], args: string[], modes: number[]): Promise<RunOutcome[]> {
    const out: RunOutcome[] = [];
    for (let i = 0; i < specs.length; i++) {
      const t0 = performance.now();
      try {
        out.push([1, ...(await run(specs[i]!, args[i]!, modes[i]!))]);
      } catch (err) {
        out.push([0, serializeError(err), performance.now() - t0]);
      }
    }
    return out;
  },
});
