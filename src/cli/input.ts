import { UsageError } from './usage-error.js';
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
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

/** Options of {@link jsonLines}. */
export interface JsonLinesOptions {
  /** A line longer than this many bytes (its LF or CRLF not counted) is an error item, skipped without being held. */
  maxLineBytes: number;
  /** Aborting stops the reading: the iteration ends, the file or stdin is closed. */
  signal?: AbortSignal;
}

/**
 * Items from a JSON-lines file (or stdin for '-'), one per non-empty line; a bad line
 * becomes an error item. Lines are split here rather than by readline, which holds a
 * line whole however long it is (a 600 MB line ended in a RangeError): a line past
 * `maxLineBytes` is counted and skipped as it streams, so memory stays bounded by the
 * limit whatever the input.
 */
export async function* jsonLines(path: string, options: JsonLinesOptions): AsyncGenerator<InputItem> {
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
  let line = 0;
  let parts: Buffer[] = [];
  let size = 0; // bytes of the current line so far
  let over = false; // the current line is past the limit: its bytes are dropped as they come
  const take = (): InputItem | undefined => {
    line++;
    if (over) return { line, error: `line ${line} is longer than the limit of ${maxLineBytes} bytes (--max-line-bytes)` };
    const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, size)).toString('utf8');
    if (text.trim() === '') return undefined;
    try {
      return { line, value: JSON.parse(text) };
    } catch (err) {
      return { line, error: `malformed JSON: ${(err as Error).message}` };
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        const end = nl === -1 ? chunk.length : nl;
        if (!over && end > start) {
          // One byte over may be the CR of a CRLF, which is not the line's: decided at its end.
          if (size + (end - start) > maxLineBytes + 1) {
            over = true;
            parts = [];
          } else {
            parts.push(chunk.subarray(start, end));
            size += end - start;
          }
        }
        if (nl === -1) break;
        if (size > maxLineBytes && lastByte(parts) !== 13) over = true;
        const item = take();
        parts = [];
        size = 0;
        over = false;
        if (item !== undefined) yield item;
        start = nl + 1;
      }
    }
    if (size > maxLineBytes && lastByte(parts) !== 13) over = true;
    if (size > 0 || over) {
      const item = take(); // the last line, without a newline
      if (item !== undefined) yield item;
    }
  } catch (err) {
    if (!signal?.aborted) throw new UsageError(`cannot read ${path === '-' ? 'stdin' : path}: ${(err as Error).message}`);
  } finally {
    signal?.removeEventListener('abort', stop);
    stream.destroy();
  }
}

function lastByte(parts: Buffer[]): number | undefined {
  const last = parts[parts.length - 1];
  return last?.[last.length - 1];
}

/** Items a..b-1, numbered from line 1. */
export function* rangeItems([a, b]: [number, number]): Generator<InputItem> {
  let line = 0;
  for (let x = a; x < b; x++) yield { line: ++line, value: x };
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
