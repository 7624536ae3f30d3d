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
import { loadFunction, loadTaskModule } from '../tasks/load.js';
import { defineTasks, moduleDefinedTasks } from '../tasks/registry.js';
import { unwrapTransfer } from '../transport/transfer.js';
import { serializeError } from '../transport/errors.js';
import { decodeValue, encodeValue } from './wire.js';

const loaded = new Map<string, Promise<Function>>();
/** The functions whose load has resolved, by the same key: a task then starts in its job's own turn. */
const ready = new Map<string, Function>();

function keyOf(spec: FunctionSpec): string {
  return spec.kind === 'module' ? `m:${spec.module}#${spec.name}` : `i:${spec.source}`;
}

function load(spec: FunctionSpec): Promise<Function> {
  const key = keyOf(spec);
  let fn = loaded.get(key);
  if (fn === undefined) {
    fn = loadFunction(spec);
    loaded.set(key, fn);
    fn.then(
      (f) => ready.set(key, f),
      // A module that failed to load may be fixed on disk; try again next time.
      () => loaded.delete(key),
    );
  }
  return fn;
}

function encodeResult(value: unknown, spec: FunctionSpec): string {
  const moved = unwrapTransfer(value);
  return encodeValue(moved === undefined ? value : moved.value, `the result of task ${spec.name}`);
}

/**
 * `run` for a pack's members, without turns of their own where they need none: a loaded
 * task called once starts at once, and a result that is a primitive is encoded at once
 * (an object, which may be a thenable, is awaited as `run` would). Packs hold tiny tasks,
 * whose two awaits each were about a tenth of a member's CPU in the worker. Throws what
 * the task throws.
 */
function runNow(spec: FunctionSpec, args: string, mode: number): [string, number] | Promise<[string, number]> {
  const fn = mode === CALL ? ready.get(keyOf(spec)) : undefined;
  if (fn === undefined) return run(spec, args, mode);
  const t0 = performance.now();
  const value: unknown = fn(...(decodeValue(args) as unknown[]));
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    return Promise.resolve(value).then((v): [string, number] => [encodeResult(v, spec), performance.now() - t0]);
  }
  return [encodeResult(value, spec), performance.now() - t0];
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
  return [encodeResult(value, spec), performance.now() - t0];
}

/** A pack member's outcome here: 1 and the encoded result, or 0 and its error (serialized); then the ms it ran. */
export type RunOutcome = [ok: 0 | 1, value: unknown, ms: number];

/** The tasks a Redis worker's pool runs. */
export const redisJobTasks = defineTasks(import.meta.url, {
  /**
   * Loads the task modules `modules` (URLs), as the worker checks them at its start;
   * throws TaskLoadError for the first that cannot load. Returns those that loaded but
   * defined no tasks (no job could run from them).
   */
  async loadModules(modules: string[]): Promise<string[]> {
    for (const module of modules) await loadTaskModule(module);
    return modules.filter((module) => !moduleDefinedTasks(module));
  },

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
        const ran = runNow(specs[i]!, args[i]!, modes[i]!);
        out.push([1, ...(Array.isArray(ran) ? ran : await ran)]);
      } catch (err) {
        out.push([0, serializeError(err), performance.now() - t0]);
      }
    }
    return out;
  },
});
