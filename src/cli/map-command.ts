import { createWriteStream, type WriteStream } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SingleBar } from 'cli-progress';
import { AsyncExecutor } from '../coroutines/async-executor.js';
import type { Executor } from '../futures/executor.js';
import type { Future } from '../futures/future.js';
import { ProcessPoolExecutor } from '../processes/process-pool.js';
import type { FunctionSpec } from '../tasks/describe.js';
import { lookupTask, moduleDefinedTasks } from '../tasks/registry.js';
import { ThreadPoolExecutor } from '../threads/thread-pool.js';
import { Histogram } from '../util/histogram.js';
import { cliTasks, type Outcome } from './cli-tasks.js';
import { countLines, jsonLines, parseRange, rangeItems, type InputItem } from './input.js';
import { UsageError } from './usage-error.js';

/** Options of `concur map`, as parsed from the command line. */
export interface MapCommandOptions {
  range?: string;
  pool: 'async' | 'thread' | 'process';
  workers?: number;
  chunksize?: number;
  unordered?: boolean;
  retries: number;
  timeout?: number;
  output?: string;
  progress?: boolean;
}

export { UsageError };

/** Resolves `path#task` to a task spec, importing the module here to check it exists. */
async function resolveTask(target: string): Promise<FunctionSpec> {
  const hash = target.lastIndexOf('#');
  if (hash <= 0 || hash === target.length - 1) throw new UsageError(`expected <module>#<task>, got ${JSON.stringify(target)}`);
  const path = target.slice(0, hash);
  const name = target.slice(hash + 1);
  const url = pathToFileURL(resolvePath(path)).href;
  try {
    await import(url);
  } catch (err) {
    throw new UsageError(`cannot load module ${path}: ${(err as Error).message}`);
  }
  if (!moduleDefinedTasks(url)) throw new UsageError(`${path} defines no tasks: define them with defineTasks(import.meta.url, { ... })`);
  if (typeof lookupTask(url, name) !== 'function') throw new UsageError(`${path} defines no task named "${name}"`);
  return { kind: 'module', module: url, name };
}

function makeExecutor(options: MapCommandOptions): Executor {
  switch (options.pool) {
    case 'async':
      return new AsyncExecutor({ maxConcurrency: options.workers ?? 64 });
    case 'thread':
      return new ThreadPoolExecutor(options.workers === undefined ? {} : { maxWorkers: options.workers });
    case 'process':
      return new ProcessPoolExecutor(options.workers === undefined ? {} : { maxWorkers: options.workers });
    default:
      throw new UsageError(`--pool must be async, thread or process, got ${JSON.stringify(options.pool)}`);
  }
}

/** Runs `concur map`; resolves to the exit code (0, or 1 when any item failed). */
export async function mapCommand(target: string, inputPath: string | undefined, options: MapCommandOptions): Promise<number> {
  if (options.range !== undefined && inputPath !== undefined) throw new UsageError('give either an input file or --range, not both');
  const items: AsyncIterable<InputItem> | Iterable<InputItem> =
    options.range !== undefined ? rangeItems(parseRange(options.range)) : jsonLines(inputPath ?? '-');
  const spec = await resolveTask(target);
  const tty = options.progress ?? (process.stderr.isTTY === true);
  const total =
    options.range !== undefined
      ? Math.max(0, parseRange(options.range)[1] - parseRange(options.range)[0])
      : tty && inputPath !== undefined && inputPath !== '-'
        ? countLines(inputPath)
        : undefined;
  const chunksize = options.chunksize ?? 256;
  const window = 64; // chunks in flight: bounded memory for any input size

  const out: WriteStream | NodeJS.WriteStream = options.output ? createWriteStream(options.output) : process.stdout;
  const executor = makeExecutor(options);
  const latency = new Histogram();
  const started = performance.now();
  let done = 0;
  let failed = 0;
  const failures: string[] = [];

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

  const write = (outcomes: Outcome[]): void => {
    let text = '';
    for (const [line, ok, value, us] of outcomes) {
      latency.record(us);
      done++;
      if (ok) text += `${JSON.stringify({ line, result: value === undefined ? null : value })}\n`;
      else {
        failed++;
        failures.push(`line ${line}: ${String(value)}`);
        text += `${JSON.stringify({ line, error: String(value) })}\n`;
      }
    }
    out.write(text);
    const now = performance.now();
    const rate = Math.round(done / ((now - started) / 1000));
    if (bar) {
      if (total === undefined) bar.setTotal(Math.max(done, 1));
      bar.update(done, { rate, failed });
    } else if (now - lastPlain > 1000) {
      lastPlain = now;
      process.stderr.write(`${done} items, ${failed} failed, ${rate}/s\n`);
    }
  };

  // Submit chunk by chunk, at most `window` in flight; write results in order (or as they come).
  let chunkNo = 0;
  let nextToWrite = 0;
  const ready = new Map<number, Outcome[]>();
  const inflight = new Set<Future<unknown>>();
  let slot: (() => void) | undefined;
  const finish = (no: number, outcomes: Outcome[]): void => {
    if (options.unordered) write(outcomes);
    else {
      ready.set(no, outcomes);
      for (let r = ready.get(nextToWrite); r !== undefined; r = ready.get(nextToWrite)) {
        ready.delete(nextToWrite++);
        write(r);
      }
    }
  };
  const submit = (chunk: Array<[number, unknown]>, bad: Outcome[]): void => {
    const no = chunkNo++;
    if (chunk.length === 0) {
      finish(no, bad);
      return;
    }
    const f = executor.submitWith(options.timeout === undefined ? {} : { timeout: options.timeout }, cliTasks.applyChunk, spec, chunk, options.retries);
    inflight.add(f);
    f.addDoneCallback(() => {
      inflight.delete(f);
      void f.result().then(
        (outcomes) => finish(no, [...bad, ...outcomes].sort((a, b) => a[0] - b[0])),
        (err: unknown) => finish(no, [...bad, ...chunk.map(([line]): Outcome => [line, false, err instanceof Error ? `${err.name}: ${err.message}` : String(err), 0])].sort((a, b) => a[0] - b[0])),
      );
      slot?.();
    });
  };

  let chunk: Array<[number, unknown]> = [];
  let bad: Outcome[] = [];
  try {
    for await (const item of items as AsyncIterable<InputItem>) {
      if ('error' in item) bad.push([item.line, false, item.error, 0]);
      else chunk.push([item.line, item.value]);
      if (chunk.length + bad.length >= chunksize) {
        submit(chunk, bad);
        chunk = [];
        bad = [];
        while (inflight.size >= window) await new Promise<void>((r) => (slot = r));
      }
    }
    if (chunk.length + bad.length > 0) submit(chunk, bad);
    await executor.shutdown({ wait: true });
    await new Promise((r) => setImmediate(r)); // the last results' writes
  } catch (err) {
    bar?.stop();
    await executor.shutdown({ wait: false, cancelFutures: true });
    throw err instanceof UsageError ? err : new UsageError((err as Error).message);
  }
  if (bar) {
    bar.setTotal(done); // blank lines were counted in the total but are not items
    bar.update(done);
    bar.stop();
  }
  await new Promise<void>((r) => (out === process.stdout ? r() : (out as WriteStream).end(r)));

  const seconds = (performance.now() - started) / 1000;
  for (const f of failures.slice(0, 20)) process.stderr.write(`failed: ${f}\n`);
  if (failures.length > 20) process.stderr.write(`failed: ... and ${failures.length - 20} more\n`);
  process.stderr.write(
    `${done} items, ${failed} failed, ${seconds.toFixed(2)} s, ${Math.round(done / seconds)} items/s; ` +
      `latency p50 ${fmtUs(latency.percentile(50))}, p90 ${fmtUs(latency.percentile(90))}, p99 ${fmtUs(latency.percentile(99))}\n`,
  );
  return failed > 0 ? 1 : 0;
}

function fmtUs(us: number): string {
  return us < 1000 ? `${us.toFixed(0)} us` : `${(us / 1000).toFixed(1)} ms`;
}
