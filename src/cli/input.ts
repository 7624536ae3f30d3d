import { UsageError } from './usage-error.js';
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** One input item: its 1-based line number and value, or why the line could not be read. */
export type InputItem = { line: number; value: unknown } | { line: number; error: string };

/** Parses `a..b` (as Python's range(a, b)). */
export function parseRange(text: string): [number, number] {
  const m = /^(-?\d+)\.\.(-?\d+)$/.exec(text);
  if (!m) throw new UsageError(`--range expects a..b with integers (as Python's range(a, b)), got ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

/** Items from a JSON-lines file (or stdin for '-'), one per non-empty line; a bad line becomes an error item. */
export async function* jsonLines(path: string): AsyncGenerator<InputItem> {
  const stream = path === '-' ? process.stdin : createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    if (path === '-') return resolve();
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { line, value: JSON.parse(text) };
    } catch (err) {
      yield { line, error: `malformed JSON: ${(err as Error).message}` };
    }
  }
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
