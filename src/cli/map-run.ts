import { BrokenExecutorError, WorkerCrashedError } from '../futures/errors.js';
import type { Future } from '../futures/future.js';
import { specName, type FunctionSpec } from '../tasks/describe.js';
import { taskRefOf } from '../tasks/registry.js';
import { Histogram } from '../util/histogram.js';
import { cliTasks, reason, stopItemsHere, type Outcome } from './cli-tasks.js';
import type { InputItem } from './input.js';
import type { Output } from './output.js';
import type { MapPool } from './pools.js';

/** Chunks in flight at once: memory stays bounded for any input size. */
const WINDOW = 64;
/** How long a stop waits for the workers to exit before it gives up on them. */
const STOP_DEADLINE_MS = 10_000;

/** Why a run ended early: a signal (Ctrl-C, kill), an output that cannot be written, an input that cannot be read. */
export type Stop = { signal: NodeJS.Signals } | { output: Error } | { input: unknown };

/** How `concur map` runs its chunks. */
export interface MapRunSettings {
  chunksize: number;
  unordered: boolean;
  retries: number;
  timeout: number | undefined;
}

/**
 * One `concur map` run: reads items into chunks, keeps at most WINDOW chunks on the pool,
 * and writes each item's line in input order (or as chunks finish). It can be stopped at
 * any moment: it takes no more input, kills the workers, and writes what had finished.
 */
export class MapRun {
  /** Items written (results and failures). */
  done = 0;
  /** Items written as failures. */
  failed = 0;
  /** Items taken from the input. */
  read = 0;
  /** The input line of the last item taken. */
  lastLine = 0;
  /** "line n: why" for each failed item. */
  readonly failures: string[] = [];
  /** Each item's run time, in microseconds. */
  readonly latency = new Histogram();
  /** Set once the run is stopped. */
  stopped: Stop | undefined;
  /** True when the workers did not exit within the stop deadline. */
  workersLingered = false;

  readonly #pool: MapPool;
  readonly #output: Output;
  readonly #spec: FunctionSpec;
  readonly #settings: MapRunSettings;
  readonly #onProgress: () => void;
  readonly #abort = new AbortController();
  readonly #ready = new Map<number, Outcome[]>();
  readonly #inflight = new Set<Future<unknown>>();
  #chunkNo = 0;
  #nextToWrite = 0;
  #wake: (() => void) | undefined;

  constructor(pool: MapPool, output: Output, spec: FunctionSpec, settings: MapRunSettings, onProgress: () => void) {
    this.#pool = pool;
    this.#output = output;
    this.#spec = spec;
    this.#settings = settings;
    this.#onProgress = onProgress;
  }

  /** Aborted when the run stops: the input reader closes its stream on it. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Stops the run (the first reason counts); `run` then winds down and resolves. */
  stop(why: Stop): void {
    if (this.stopped !== undefined) return;
    this.stopped = why;
    stopItemsHere();
    this.#abort.abort();
    this.#wake?.();
  }

  /** Runs every item (the input comes in batches), or until stopped; resolves once the workers are gone. */
  async run(batches: Iterable<InputItem[]> | AsyncIterable<InputItem[]>): Promise<void> {
    stopItemsHere(false);
    const { chunksize } = this.#settings;
    let chunk: Array<[number, unknown]> = [];
    let bad: Outcome[] = [];
    try {
      for await (const batch of batches) {
        for (const item of batch) {
          if (this.stopped !== undefined) break;
          this.read++;
          this.lastLine = item.line;
          if ('error' in item) bad.push([item.line, false, item.error, 0]);
          else chunk.push([item.line, item.value]);
          if (chunk.length + bad.length >= chunksize) {
            this.#submit(chunk, bad);
            chunk = [];
            bad = [];
            // A slow output holds the input back too, rather than results piling up in memory.
            while (this.stopped === undefined && (this.#inflight.size >= WINDOW || this.#output.congested)) await this.#sleep();
          }
        }
        if (this.stopped !== undefined) break;
      }
    } catch (err) {
      this.stop({ input: err });
      await this.#halt();
      throw err;
    }
    if (this.stopped === undefined && chunk.length + bad.length > 0) this.#submit(chunk, bad);
    if (this.stopped === undefined) {
      const stopped = new Promise<void>((resolve) => this.signal.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([this.#pool.executor.shutdown({ wait: true }), stopped]);
    }
    if (this.stopped !== undefined) await this.#halt();
    // Each chunk's line is written from its Future's continuation: let the last ones run.
    while (this.#inflight.size > 0 && this.stopped === undefined) await this.#sleep();
  }

  #sleep(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (this.#output.congested) void this.#output.drained().then(resolve);
    });
  }

  #submit(chunk: Array<[number, unknown]>, bad: Outcome[]): void {
    const no = this.#chunkNo++;
    if (chunk.length === 0) {
      this.#finish(no, bad);
      return;
    }
    const { timeout, retries } = this.#settings;
    // applyChunk retries an item that throws; the pool, a chunk whose worker crashed or timed out.
    const f = this.#pool.executor.submitWith(timeout === undefined ? { retries } : { timeout, retries }, cliTasks.applyChunk, this.#spec, chunk, retries);
    this.#inflight.add(f);
    void f
      .result()
      .then(
        (outcomes) => this.#finish(no, merge(bad, outcomes)),
        (err: unknown) => {
          // Ctrl-C on a terminal signals the whole process group: a worker may die of it
          // before this process runs its own handler. The user stopped the run, the task
          // did not fail.
          const signal = stopSignalOf(err);
          if (signal !== undefined) this.stop({ signal });
          if (this.stopped !== undefined) return; // cut short by the stop: its items did not run
          const why = ownTaskNamed(reason(err), this.#spec);
          this.#finish(no, merge(bad, chunk.map(([line]): Outcome => [line, false, why, 0])));
        },
      )
      .finally(() => {
        this.#inflight.delete(f);
        this.#wake?.();
      });
  }

  #finish(no: number, outcomes: Outcome[]): void {
    if (this.#settings.unordered) {
      this.#write(outcomes);
      return;
    }
    this.#ready.set(no, outcomes);
    for (let r = this.#ready.get(this.#nextToWrite); r !== undefined; r = this.#ready.get(this.#nextToWrite)) {
      this.#ready.delete(this.#nextToWrite++);
      this.#write(r);
    }
  }

  #write(outcomes: Outcome[]): void {
    if (this.#output.error !== undefined) return; // lines that cannot be written are not done
    let text = '';
    for (const [line, ok, value, us] of outcomes) {
      this.latency.record(us);
      this.done++;
      if (ok) text += `{"line":${line},"result":${value}}\n`;
      else {
        this.failed++;
        this.failures.push(`line ${line}: ${value}`);
        text += `${JSON.stringify({ line, error: value })}\n`;
      }
    }
    this.#output.write(text, outcomes.length);
    this.#onProgress();
  }

  /** After a stop: no task left queued, every worker killed, and what had finished written. */
  async #halt(): Promise<void> {
    void this.#pool.executor.shutdown({ wait: false, cancelFutures: true });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STOP_DEADLINE_MS)));
    this.workersLingered = !(await Promise.race([this.#pool.stop().then(() => true), deadline]));
    clearTimeout(timer);
    // In input order, chunks that finished behind one that never will are still written:
    // the lines keep increasing, with gaps where items did not run.
    for (const no of [...this.#ready.keys()].sort((a, b) => a - b)) this.#write(this.#ready.get(no)!);
    this.#ready.clear();
  }
}

/**
 * A pool's error about a chunk (a worker that crashed, a timeout) names the task the pool
 * ran, the command's applyChunk in its bundled chunk file, which says nothing to the user:
 * it names the user's task instead.
 */
function ownTaskNamed(why: string, spec: FunctionSpec): string {
  const ref = taskRefOf(cliTasks.applyChunk)!;
  const own = specName(spec);
  // A pool names it with its module; the async pool, by the function's name alone.
  return why.split(specName({ kind: 'module', module: ref.module, name: ref.name })).join(own).split(`task ${ref.name} `).join(`task ${own} `);
}

function merge(bad: Outcome[], outcomes: Outcome[]): Outcome[] {
  return bad.length === 0 ? outcomes : [...bad, ...outcomes].sort((a, b) => a[0] - b[0]);
}

/**
 * SIGINT or SIGTERM when `err` says a worker died of it: while it ran the task, or while
 * it started (which breaks the pool, the signal in its cause).
 */
function stopSignalOf(err: unknown): NodeJS.Signals | undefined {
  const crash = err instanceof BrokenExecutorError ? err.cause : err;
  if (crash instanceof WorkerCrashedError && (crash.signal === 'SIGINT' || crash.signal === 'SIGTERM')) return crash.signal;
  return undefined;
}
