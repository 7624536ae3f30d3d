import { UsageError } from './usage-error.js';
import { createReadStream } from 'node:fs';
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
