/**
 * What a worker thread prints goes straight to the process's stdout and stderr.
 *
 *   Node:   worker console.log ─► port ─► main thread's event loop ─► fd 1
 *                 (the second write waits for the main thread's ack, read on the worker's event loop)
 *   concur: worker console.log ─► fs.writeSync(1)
 *
 * Node relays a worker's stdout through the main thread: the first write is posted at
 * once, and the next waits for an acknowledgement that the worker reads on its own event
 * loop. A Thread in a long synchronous loop therefore prints one line and then nothing
 * until the loop ends, and nothing at all while the main thread is blocked (sleepSync,
 * acquireSync, a long computation). A Python thread's print is written at once. So when
 * the process's stdout or stderr is a file, a terminal, a pipe or a socket, concur's
 * threads (Thread and thread-pool workers) write to it themselves, synchronously, as
 * the main thread does on Linux. `CONCUR_THREAD_STDIO=relay` in the environment keeps
 * Node's relay (for a program that replaces `process.stdout` in its main thread and
 * wants the threads' output there too).
 */
import { fstatSync, writeSync } from 'node:fs';

/** Which of stdout (fd 1) and stderr (fd 2) threads write to directly. */
export interface DirectStdio {
  out: boolean;
  err: boolean;
}

function writable(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFile() || st.isFIFO() || st.isSocket() || st.isCharacterDevice();
  } catch {
    return false; // closed, or not something we can write to ourselves
  }
}

let decided: DirectStdio | undefined;

/** In the thread starting a worker: which streams the worker should write itself. */
export function directStdio(): DirectStdio {
  if (process.env.CONCUR_THREAD_STDIO === 'relay') return { out: false, err: false };
  return (decided ??= { out: writable(1), err: writable(2) });
}

const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 1); // a non-blocking pipe that is full: wait for the reader
        continue;
      }
      if (code === 'EPIPE' || code === 'EBADF') return; // the reader or the descriptor is gone: nothing can read it
      throw err;
    }
  }
}

function redirect(stream: NodeJS.WriteStream, fd: number): void {
  stream.write = function write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, (encoding as BufferEncoding | undefined) ?? 'utf8') : (chunk as Uint8Array);
    let error: unknown = null;
    try {
      writeAll(fd, bytes);
    } catch (err) {
      error = err;
    }
    if (typeof callback === 'function') process.nextTick(callback as (err: unknown) => void, error);
    else if (error !== null) process.nextTick(() => stream.emit('error', error));
    return true;
  } as NodeJS.WriteStream['write'];
}

/** In a worker thread, before any user code: writes what it prints straight to the descriptors chosen. */
export function installDirectStdio(which: DirectStdio | undefined): void {
  if (which?.out) redirect(process.stdout, 1);
  if (which?.err) redirect(process.stderr, 2);
}
