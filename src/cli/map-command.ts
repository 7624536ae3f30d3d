import { ensureTypeScript, isTypeScriptModule } from '../tasks/typescript.js';
import { realpathSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SingleBar } from 'cli-progress';
import type { FunctionSpec } from '../tasks/describe.js';
import { definedTaskNames, lookupTask, moduleDefinedTasks } from '../tasks/registry.js';
import { countLines, DEFAULT_MAX_LINE_BYTES, jsonLines, parseRange, rangeItems, type InputItem } from './input.js';
import { tasksPrintToStderr } from './cli-tasks.js';
import { MapRun } from './map-run.js';
import { openOutput } from './output.js';
import { makePool } from './pools.js';
import { UsageError } from './usage-error.js';

/** After a signal stopped the run, how long the lines that finished may take to be written. */
const STOP_OUTPUT_GRACE_MS = 2_000;

/** Options of `concur map`, as parsed from the command line. */
export interface MapCommandOptions {
  range?: string;
  pool: string;
  workers?: number;
  chunksize?: number;
  unordered?: boolean;
  retries: number;
  timeout?: number;
  output?: string;
  progress?: boolean;
  maxLineBytes?: number;
}

export { UsageError };

/** Resolves `path#task` to a task spec, importing the module here to check it exists. */
async function resolveTask(target: string): Promise<FunctionSpec> {
  const hash = target.lastIndexOf('#');
  if (hash <= 0 || hash === target.length - 1) throw new UsageError(`expected <module>#<task>, got ${JSON.stringify(target)}`);
  const path = target.slice(0, hash);
  const name = target.slice(hash + 1);
  // Node loads a module from its real path (a link's target): that is the URL its
  // defineTasks registered under, so the task is looked up by it.
  let real = resolvePath(path);
  try {
    real = realpathSync(real);
  } catch {
    // not there: the import below says so
  }
  const url = pathToFileURL(real).href;
  try {
    // This command runs as compiled JavaScript: a .ts module needs tsx here, as in a worker.
    if (isTypeScriptModule(url)) await ensureTypeScript(url);
    await importToTheEnd(url);
  } catch (err) {
    throw new UsageError(`cannot load module ${path}: ${(err as Error).message}`);
  }
  if (!moduleDefinedTasks(url)) throw new UsageError(`${path} defines no tasks: define them with defineTasks(import.meta.url, { ... })`);
  if (typeof lookupTask(url, name) !== 'function') {
    throw new UsageError(`${path} defines no task named "${name}"; its tasks: ${definedTaskNames(url).join(', ')}`);
  }
  return { kind: 'module', module: url, name };
}

/** Whether two paths name one regular file (links followed); false when either does not exist. */
function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.isFile() && x.dev === y.dev && x.ino === y.ino; // a terminal may well be both
  } catch {
    return false;
  }
}

/**
 * Imports a module. One whose top-level await waits on a promise nothing can settle
 * leaves nothing for the event loop: Node would end the command with exit code 13 and
 * not a word. The loop running dry while the import is pending (beforeExit) says it will
 * never end; a module that also holds a timer or a socket keeps the command waiting, as
 * any program that hangs, until Ctrl-C.
 */
async function importToTheEnd(url: string): Promise<void> {
  let dry!: () => void;
  const never = new Promise<never>((_, reject) => {
    dry = () => reject(new Error('its import never finishes (a top-level await on a promise that nothing settles)'));
  });
  process.once('beforeExit', dry);
  try {
    await Promise.race([import(url), never]);
  } finally {
    process.off('beforeExit', dry);
  }
}

/**
 * Runs `concur map`; resolves to the exit code: 0, 1 when any item failed (or the output
 * failed), 128 + n when signal n stopped it. Everything that can be refused is refused
 * before a worker starts, as a UsageError.
 */
export async function mapCommand(target: string, inputPath: string | undefined, options: MapCommandOptions): Promise<number> {
  if (options.range !== undefined && inputPath !== undefined) throw new UsageError('give either an input file or --range, not both');
  const range = options.range === undefined ? undefined : parseRange(options.range);
  tasksPrintToStderr(); // the task module's top level runs here, and on the async pool its tasks
  const spec = await resolveTask(target);
  if (options.output !== undefined && inputPath !== undefined && inputPath !== '-' && sameFile(inputPath, options.output)) {
    // Opening the output truncates it: the input would be gone before its first line was read.
    throw new UsageError(`--output ${options.output} is the input file ${inputPath}: write the results elsewhere`);
  }
  const output = openOutput(options.output);
  // The bar redraws its line in place and turns line wrapping off while it runs: result
  // lines written to the same terminal would be drawn over and cut at its width.
  const resultsOnTerminal = options.output === undefined && process.stdout.isTTY === true;
  const tty = options.progress ?? (process.stderr.isTTY === true && !resultsOnTerminal);
  const total =
    range !== undefined ? Math.max(0, range[1] - range[0]) : tty && inputPath !== undefined && inputPath !== '-' ? countLines(inputPath) : undefined;

  const pool = makePool(options.pool, options.workers);
  const started = performance.now();
  const bar = tty
    ? new SingleBar({
        format: ' {bar} {percentage}% | {value}/{total} items | {rate}/s | ETA {eta_formatted} | {failed} failed',
        stream: process.stderr,
        hideCursor: true,
        noTTYOutput: false,
      })
    : undefined;
  bar?.start(total ?? 0, 0, { rate: 0, failed: 0 });
  let lastPlain = started;
  const run: MapRun = new MapRun(
    pool,
    output,
    spec,
    { chunksize: options.chunksize ?? 256, unordered: options.unordered === true, retries: options.retries, timeout: options.timeout },
    () => {
      const now = performance.now();
      const rate = Math.round(run.done / ((now - started) / 1000));
      if (bar) {
        if (total === undefined) bar.setTotal(Math.max(run.done, 1));
        bar.update(run.done, { rate, failed: run.failed });
      } else if (now - lastPlain > 1000) {
        lastPlain = now;
        process.stderr.write(`${run.done} items, ${run.failed} failed, ${rate}/s\n`);
      }
    },
  );
  output.onError((error) => run.stop({ output: error }));
  // Ctrl-C (or kill) stops the run and its summary still prints; a second one ends at once.
  let signals = 0;
  const exit = process.exit;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      void pool.stop(); // kills the workers at once, before this process is gone
      bar?.stop(); // gives the terminal back its cursor and line wrapping, as the first stop would have
      exit.call(process, 128 + constants.signals[signal]);
    }
    run.stop({ signal });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const items: AsyncIterable<InputItem[]> | Iterable<InputItem[]> =
    range !== undefined ? rangeItems(range) : jsonLines(inputPath ?? '-', { maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, signal: run.signal });
  // The async pool runs the tasks in this process: a task's process.exit would end the
  // command at once, its finished lines unwritten and no summary. It throws instead and
  // fails its item, as Python's sys.exit raises SystemExit in a pool's task.
  if (options.pool === 'async') {
    process.exit = ((code?: number | string | null) => {
      throw new Error(`the task called process.exit(${code ?? ''}), which on the async pool would end the command itself`);
    }) as typeof process.exit;
  }
  try {
    await run.run(items);
  } catch (err) {
    bar?.stop(); // the workers are gone already: run() kills them before it throws
    throw err instanceof UsageError ? err : new UsageError((err as Error).message);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.exit = exit;
  }
  if (bar) {
    if (run.stopped === undefined) bar.setTotal(run.done); // blank lines were counted in the total but are not items
    bar.update(run.done);
    bar.stop();
  }
  const stoppedBy = run.stopped;
  if (stoppedBy !== undefined && 'signal' in stoppedBy) {
    // A stop asked for is not held up by a reader that stopped reading: the lines that
    // finished get a moment to go out, then the command ends with what it could write.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STOP_OUTPUT_GRACE_MS)));
    const written = await Promise.race([output.end().then(() => true), late]);
    clearTimeout(timer);
    if (!written) process.stderr.write(`concur: the output took no more for ${STOP_OUTPUT_GRACE_MS / 1000} s after the ${stoppedBy.signal}: lines still waiting for it are lost\n`);
  } else await output.end();
  // A stop may have left finished lines unwritten (a closed pipe, a reader that stopped):
  // the write callbacks that will come have come by the next turn.
  if (stoppedBy !== undefined) await new Promise((resolve) => setImmediate(resolve));
  printSummary(run, started, range !== undefined ? total! : run.read, range === undefined, stoppedBy === undefined ? 0 : output.unwritten);
  const stopped = run.stopped;
  if (stopped === undefined) return run.failed > 0 ? 1 : 0;
  return 'signal' in stopped ? 128 + constants.signals[stopped.signal] : 1;
}

/** `lost`: items that ran but whose lines were not written (after a stop). */
function printSummary(run: MapRun, started: number, items: number, fromFile: boolean, lost: number): void {
  const seconds = (performance.now() - started) / 1000;
  const { failures, latency, stopped } = run;
  for (const f of failures.slice(0, 20)) process.stderr.write(`failed: ${f}\n`);
  if (failures.length > 20) process.stderr.write(`failed: ... and ${failures.length - 20} more\n`);
  const timing = `${seconds.toFixed(2)} s, ${Math.round(run.done / seconds)} items/s; latency p50 ${fmtUs(latency.percentile(50))}, p90 ${fmtUs(latency.percentile(90))}, p99 ${fmtUs(latency.percentile(99))}`;
  if (stopped === undefined) {
    process.stderr.write(`${run.done} items, ${run.failed} failed, ${timing}\n`);
    return;
  }
  if ('output' in stopped) process.stderr.write(`concur: stopped: cannot write the output: ${stopped.output.message}\n`);
  if (run.workersLingered) process.stderr.write('concur: some workers had not exited 10 s after they were killed\n');
  const word = 'signal' in stopped ? 'interrupted' : 'stopped';
  const where = fromFile ? `; the input was read to line ${run.lastLine}` : '';
  const unwritten = lost > 0 ? `, ${lost} ran but were not written` : '';
  process.stderr.write(`${word}: ${run.done - lost} items done, ${run.failed} failed${unwritten}, ${items - run.done} not run${where}; ${timing}\n`);
}

function fmtUs(us: number): string {
  return us < 1000 ? `${us.toFixed(0)} us` : `${(us / 1000).toFixed(1)} ms`;
}
