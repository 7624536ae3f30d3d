import { UsageError } from './usage-error.js';
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';

/** One input item: its 1-based line number and value, or why the line could not be read. */
export type InputItem = { line: number; value: unknown } | { line: number; error: string };

/** The longest input line read by default, in bytes: longer ones fail as items (--max-line-bytes). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** Parses `a..b` (as Python's range(a, b)); both ends must be safe integers, where x + 1 is exact. */
export function parseRange(text: string): [number, number] {
  const m = /^(-?\d+)\.\.(-?\d+)$/.exec(text);
  if (!m) throw new UsageError(`--range expects a..b with integers (as Python's range(a, b)), got ${JSON.stringify(text)}`);
  const [a, b] = [Number(m[1]), Number(m[2])];
  // Past 2^53 a double cannot count by one: x + 1 === x and the range would never end.
  for (const [end, digits] of [[a, m[1]!], [b, m[2]!]] as const) {
    if (!Number.isSafeInteger(end)) {
      throw new UsageError(
        `--range ${text}: ${digits} is beyond the safe integers (-${Number.MAX_SAFE_INTEGER}..${Number.MAX_SAFE_INTEGER}), where counting by one is exact`,
      );
    }
  }
  return [a, b];
}

/** Why a line past the limit failed. */
function tooLong(line: number, maxLineBytes: number): InputItem {
  return { line, error: `line ${line} is longer than the limit of ${maxLineBytes} bytes (--max-line-bytes)` };
}

/**
 * The item of one line's bytes, or undefined for a blank line. Bytes that are not UTF-8
 * fail the line: decoded, they would become replacement characters (U+FFFD) and the task
 * would run on an input that is not the one given. A byte order mark before the first
 * line is ignored, as RFC 8259 allows.
 */
function decodeLine(bytes: Buffer, line: number): InputItem | undefined {
  if (!isUtf8(bytes)) return { line, error: `line ${line} is not valid UTF-8` };
  return parseLine(bytes.toString('utf8'), line);
}

/** The item of one line's text, or undefined for a blank line. */
function parseLine(text: string, line: number): InputItem | undefined {
  if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return undefined;
  try {
    return { line, value: JSON.parse(text) };
  } catch (err) {
    return { line, error: `malformed JSON: ${(err as Error).message}` };
  }
}

/**
 * Splits JSON lines out of byte chunks, numbering them from 1. A line longer than
 * `maxLineBytes` (its LF or CRLF not counted) becomes an error item, and its bytes are
 * dropped as they come: at most the limit of one line is ever held, whatever the input.
 */
export class LineSplitter {
  readonly #max: number;
  #line = 0;
  #parts: Buffer[] = []; // the current line's bytes so far, from earlier chunks
  #size = 0;
  #over = false; // the current line is past the limit

  constructor(maxLineBytes: number) {
    this.#max = maxLineBytes;
  }

  /** Appends to `out` the items of the lines that end in `chunk`. */
  push(chunk: Buffer, out: InputItem[]): void {
    const first = chunk.indexOf(10);
    if (first === -1) {
      this.#append(chunk, 0, chunk.length);
      return;
    }
    this.#append(chunk, 0, first);
    this.#endLine(out);
    const last = chunk.lastIndexOf(10);
    const start = first + 1;
    if (last > first) {
      if (last - start <= this.#max && isUtf8(chunk.subarray(start, last))) {
        // No line in here can pass the limit, nor has bytes that are not UTF-8: one decode
        // and a string split, faster than readline.
        for (const text of chunk.toString('utf8', start, last).split('\n')) {
          const item = parseLine(text, ++this.#line);
          if (item !== undefined) out.push(item);
        }
      } else {
        for (let s = start; s <= last; ) {
          const e = chunk.indexOf(10, s);
          const line = ++this.#line;
          const item = this.#fits(e - s, chunk[e - 1]) ? decodeLine(chunk.subarray(s, e), line) : tooLong(line, this.#max);
          if (item !== undefined) out.push(item);
          s = e + 1;
        }
      }
    }
    this.#append(chunk, last + 1, chunk.length);
  }

  /** Appends to `out` the item of a last line that had no newline. */
  end(out: InputItem[]): void {
    if (this.#size > 0 || this.#over) this.#endLine(out);
  }

  /** Whether a line of `bytes` bytes, the last of them `lastByte`, is within the limit (a CR before the LF is not the line's). */
  #fits(bytes: number, lastByte: number | undefined): boolean {
    return bytes <= this.#max || (bytes === this.#max + 1 && lastByte === 13);
  }

  #append(chunk: Buffer, start: number, end: number): void {
    if (this.#over || end === start) return;
    if (this.#size + (end - start) > this.#max + 1) {
      this.#over = true;
      this.#parts = [];
      return;
    }
    this.#parts.push(chunk.subarray(start, end));
    this.#size += end - start;
  }

  #endLine(out: InputItem[]): void {
    const line = ++this.#line;
    const parts = this.#parts;
    const tail = parts[parts.length - 1];
    let item: InputItem | undefined;
    if (this.#over || !this.#fits(this.#size, tail?.[tail.length - 1])) item = tooLong(line, this.#max);
    else item = decodeLine(parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#size), line);
    if (item !== undefined) out.push(item);
    this.#parts = [];
    this.#size = 0;
    this.#over = false;
  }
}

/** Options of {@link jsonLines}. */
export interface JsonLinesOptions {
  /** A line longer than this many bytes (its LF or CRLF not counted) is an error item, skipped without being held. */
  maxLineBytes: number;
  /** Aborting stops the reading: the iteration ends, the file or stdin is closed. */
  signal?: AbortSignal;
}

/**
 * Items from a JSON-lines file (or stdin for '-'), one per non-empty line, in batches (the
 * lines of each chunk read); a bad line becomes an error item. Lines are split here
 * rather than by readline, which holds a line whole however long it is (a 600 MB line
 * ended in a RangeError): see {@link LineSplitter}.
 */
export async function* jsonLines(path: string, options: JsonLinesOptions): AsyncGenerator<InputItem[]> {
  const { maxLineBytes, signal } = options;
  const stream: Readable = path === '-' ? process.stdin : createReadStream(path);
  if (path !== '-') {
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', reject);
      });
    } catch (err) {
      throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
    }
  }
  const stop = (): void => void stream.destroy();
  signal?.addEventListener('abort', stop, { once: true });
  const lines = new LineSplitter(maxLineBytes);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const batch: InputItem[] = [];
      lines.push(chunk, batch);
      if (batch.length > 0) yield batch;
    }
    const batch: InputItem[] = [];
    lines.end(batch);
    if (batch.length > 0) yield batch;
  } catch (err) {
    if (!signal?.aborted) throw new UsageError(`cannot read ${path === '-' ? 'stdin' : path}: ${(err as Error).message}`);
  } finally {
    signal?.removeEventListener('abort', stop);
    stream.destroy();
  }
}

/** Items a..b-1, numbered from line 1, in batches of up to 1,024. */
export function* rangeItems([a, b]: [number, number]): Generator<InputItem[]> {
  let line = 0;
  for (let x = a; x < b; ) {
    const batch: InputItem[] = [];
    for (const end = Math.min(b, x + 1024); x < end; x++) batch.push({ line: ++line, value: x });
    yield batch;
  }
}

/** Lines in a file, for the progress bar's total: a fast scan for newlines (blank lines counted too). */
export function countLines(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let lines = 0;
    let last = 10;
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      for (let i = buf.indexOf(10, 0); i !== -1 && i < n; i = buf.indexOf(10, i + 1)) lines++;
      last = buf[n - 1]!;
    }
    return last === 10 ? lines : lines + 1;
  } finally {
    closeSync(fd);
  }
}
