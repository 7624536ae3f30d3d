import { createWriteStream, openSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { UsageError } from './usage-error.js';

/** Where `concur map` writes its result lines: a file or stdout. */
export interface Output {
  /** Writes text (holding `lines` result lines) unless the output has failed. */
  write(text: string, lines?: number): void;
  /**
   * Result lines given to {@link write} that have not been written yet (still buffered,
   * or lost to a failed output): after a stop, those the reader never got.
   */
  readonly unwritten: number;
  /** True while more than a buffer's worth waits to be written: the producer should wait for {@link drained}. */
  readonly congested: boolean;
  /** Resolves once the buffered text is written (or the output failed). */
  drained(): Promise<void>;
  /** Why the output cannot be written, once it failed. */
  readonly error: Error | undefined;
  /** Called once, when the output fails (a full disk, a closed pipe). */
  onError(listener: (err: Error) => void): void;
  /** Writes what is buffered and closes a file (stdout stays open); resolves even if the output failed. */
  end(): Promise<void>;
}

/**
 * stdout's own write, kept as the module loads, before `tasksPrintToStderr` sends what
 * tasks print there to stderr: the result lines still go to stdout through it.
 */
const writeStdout = process.stdout.write.bind(process.stdout) as (text: string, done: (err?: Error | null) => void) => boolean;

/**
 * Opens the output before any work starts: a path that cannot be written (no such
 * directory, a directory, no permission) is a usage error said in one line, rather than
 * an 'error' event on a stream after the workers have started.
 */
export function openOutput(path: string | undefined): Output {
  let stream: NodeJS.WritableStream & { writableNeedDrain: boolean; writableLength: number; destroyed: boolean };
  if (path === undefined) stream = process.stdout;
  else {
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (err) {
      throw new UsageError(`cannot write the output ${path}: ${(err as Error).message}`);
    }
    stream = createWriteStream(path, { fd });
  }
  let error: Error | undefined;
  const listeners: Array<(err: Error) => void> = [];
  stream.on('error', (err: Error) => {
    if (error !== undefined) return;
    error = err;
    for (const l of listeners) l(err);
  });
  // One wait shared by every caller until it settles: a producer woken for other reasons
  // asks again while the output is still congested, and a wait each would pile listeners on the stream.
  let pending: Promise<void> | undefined;
  const settled = (): Promise<void> => {
    if (error !== undefined || stream.destroyed || stream.writableLength === 0) return Promise.resolve();
    pending ??= new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('error', done);
        stream.off('close', done);
        pending = undefined;
        resolve();
      };
      stream.on('drain', done);
      stream.on('error', done);
      stream.on('close', done);
    });
    return pending;
  };
  let handed = 0;
  let written = 0;
  return {
    write: (text, lines = 0) => {
      if (error === undefined && !stream.destroyed) {
        handed += lines;
        // Called once the text is out of this process (or with the error that kept it in).
        const done = (err?: Error | null): void => {
          if (err == null) written += lines;
        };
        if (path === undefined) writeStdout(text, done);
        else stream.write(text, done);
      }
    },
    get unwritten() {
      return handed - written;
    },
    get congested() {
      return error === undefined && stream.writableNeedDrain;
    },
    drained: settled,
    get error() {
      return error;
    },
    onError: (listener) => void listeners.push(listener),
    end: async () => {
      if (path === undefined) return settled();
      if (error !== undefined || stream.destroyed) return;
      stream.end();
      await finished(stream).catch(() => undefined); // a failure was reported through onError
    },
  };
}
