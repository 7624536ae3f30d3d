// The line reader of `concur map` (src/cli/input.ts) against a reference split: lines
// across the 64 KiB read chunks, at the limit and one byte past it, LF and CRLF, UTF-8
// characters cut by a chunk boundary.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonLines, LineSplitter, type InputItem } from '../../src/cli/input.js';
import { tempDir } from './run-concur.js';

async function read(text: string, maxLineBytes: number): Promise<InputItem[]> {
  const file = join(tempDir(), 'in.jsonl');
  writeFileSync(file, text);
  const items: InputItem[] = [];
  for await (const batch of jsonLines(file, { maxLineBytes })) items.push(...batch);
  return items;
}

/** What the reader should give: JSON lines split on LF, a trailing CR not counted in the limit, which is in UTF-8 bytes. */
function expected(text: string, maxLineBytes: number): InputItem[] {
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts.flatMap((raw, i): InputItem[] => {
    const line = i + 1;
    const body = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (Buffer.byteLength(body) > maxLineBytes) return [{ line, error: `line ${line} is longer than the limit of ${maxLineBytes} bytes (--max-line-bytes)` }];
    if (raw.trim() === '') return [];
    try {
      return [{ line, value: JSON.parse(raw) }];
    } catch (err) {
      return [{ line, error: `malformed JSON: ${(err as Error).message}` }];
    }
  });
}

describe('jsonLines', () => {
  const limit = 100_000;
  const str = (bytes: number, fill = 'a'): string => JSON.stringify(fill.repeat(bytes - 2)); // bytes counts the quotes
  it('splits at the limit exactly, LF and CRLF, across read chunks', { timeout: 30_000 }, async () => {
    const lines = [
      str(limit), // at the limit
      str(limit + 1), // one past
      `${str(limit)}\r`, // at the limit, CRLF
      `${str(limit + 1)}\r`, // one past, CRLF
      '',
      '   ',
      str(70_000), // crosses a 64 KiB chunk
      str(3 * limit), // far past, over several chunks
      '42',
      `"${'é'.repeat(40_000)}"`, // 80,002 bytes of two-byte characters, cut by a chunk boundary
      `"${'é'.repeat(50_000)}"`, // 100,002 bytes: past the limit in bytes, not in characters
      '{"x": [1, 2, 3]}',
    ];
    for (const tail of ['\n', '']) {
      const text = lines.join('\n') + tail;
      assert.deepEqual(await read(text, limit), expected(text, limit));
    }
  });

  it('a last line past the limit without a newline is still an item', { timeout: 30_000 }, async () => {
    assert.deepEqual(await read(`1\n${str(200)}`, 100), [
      { line: 1, value: 1 },
      { line: 2, error: 'line 2 is longer than the limit of 100 bytes (--max-line-bytes)' },
    ]);
  });

  it('many short lines in one chunk, with a 1-byte limit', { timeout: 30_000 }, async () => {
    const text = Array.from({ length: 50_000 }, (_, i) => String(i % 10)).join('\n');
    assert.deepEqual(await read(text, 1), expected(text, 1));
  });
});

describe('LineSplitter', () => {
  it('gives the reference items however the bytes are cut into chunks', { timeout: 60_000 }, () => {
    const lineArb = fc.oneof(
      fc.integer({ min: -50, max: 50 }).map(String),
      fc.string({ unit: 'grapheme', maxLength: 12 }).map((t) => JSON.stringify(t)), // multi-byte characters too
      fc.constantFrom('', ' ', '{bad', '[1,2]', 'null'),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lineArb, fc.boolean()), { maxLength: 30 }), // [line, CRLF?]
        fc.boolean(), // a newline after the last line
        fc.integer({ min: 1, max: 24 }), // the limit in bytes
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), // chunk sizes, cycled
        (lines, trailing, limit, cuts) => {
          const text = lines.map(([l, crlf]) => (crlf ? `${l}\r` : l)).join('\n') + (trailing && lines.length > 0 ? '\n' : '');
          const bytes = Buffer.from(text);
          const splitter = new LineSplitter(limit);
          const got: InputItem[] = [];
          for (let at = 0, k = 0; at < bytes.length; k++) {
            const n = cuts[k % cuts.length]!;
            splitter.push(bytes.subarray(at, at + n), got);
            at += n;
          }
          splitter.end(got);
          assert.deepEqual(got, expected(text, limit));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('input that is not UTF-8', () => {
  /** The items of `bytes` cut into chunks of `n` bytes. */
  const split = (bytes: Buffer, n: number, limit = 1000): InputItem[] => {
    const splitter = new LineSplitter(limit);
    const got: InputItem[] = [];
    for (let at = 0; at < bytes.length; at += n) splitter.push(bytes.subarray(at, at + n), got);
    splitter.end(got);
    return got;
  };

  it('a line with bytes that are not UTF-8 fails by its number; it is not run on replacement characters', { timeout: 30_000 }, () => {
    // "\xff\xfe" is no UTF-8 at all; "\xc3(" a lead byte without its continuation; "\xed\xa0\x80" an encoded surrogate.
    const bytes = Buffer.concat([
      Buffer.from('"ok"\n"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"\n"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"\n"'),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('"\r\n"é"\n'),
    ]);
    const want: InputItem[] = [
      { line: 1, value: 'ok' },
      { line: 2, error: 'line 2 is not valid UTF-8' },
      { line: 3, error: 'line 3 is not valid UTF-8' },
      { line: 4, error: 'line 4 is not valid UTF-8' },
      { line: 5, value: 'é' },
    ];
    for (const n of [1, 2, 3, 5, 7, bytes.length]) assert.deepEqual(split(bytes, n), want, `chunks of ${n} bytes`);
    // and with the limit below a chunk's span, which reads line by line
    assert.deepEqual(split(bytes, bytes.length, 8), want);
  });

  it('a UTF-8 byte order mark at the start of the input is ignored (RFC 8259 allows it), not a malformed line 1', { timeout: 30_000 }, async () => {
    assert.deepEqual(await read('\ufeff1\n2\n', 100), [
      { line: 1, value: 1 },
      { line: 2, value: 2 },
    ]);
    assert.deepEqual(split(Buffer.from('\ufeff"a"\r\n\ufeff2\n'), 1), [
      { line: 1, value: 'a' },
      { line: 2, error: `malformed JSON: ${errorOf('\ufeff2')}` }, // only the first line's is a byte order mark
    ]);
  });
});

function errorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${text} parses`);
}
