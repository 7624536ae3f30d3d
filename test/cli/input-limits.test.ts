// Items 9 and 10 of issue 11: ranges past the safe integers are refused; a line past the
// line limit is a failed item named by its number, read without buffering all of it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { concur, hostile, jsonLines, start, tempDir } from './run-concur.js';

const rssReporter = fileURLToPath(new URL('../fixtures/cli-report-maxrss.mjs', import.meta.url));

describe('concur map --range at the edge of the safe integers', () => {
  for (const range of ['9007199254740992..9007199254740994', '-9007199254740993..0', '0..99999999999999999999']) {
    it(`refuses ${range} as a usage error (exit 2), at once`, { timeout: 90_000 }, async () => {
      const r = await concur(['map', `${hostile}#identity`, '--range', range, '--pool', 'async'], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, r.stderr.slice(0, 500));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^concur: --range .*safe integers.*\n$/);
    });
  }

  it('runs a range that ends at the largest safe integer', { timeout: 30_000 }, async () => {
    const r = await concur(['map', `${hostile}#identity`, '--range', '9007199254740989..9007199254740991', '--pool', 'async']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(jsonLines(r.stdout), [
      { line: 1, result: 9007199254740989 },
      { line: 2, result: 9007199254740990 },
    ]);
  });
});

describe('concur map: a line past the line limit', () => {
  it('--max-line-bytes: a longer line fails by its number, the 20,000 others run', { timeout: 90_000 }, async () => {
    const d = tempDir();
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify(`item ${i + 1}`));
    lines[6] = JSON.stringify('x'.repeat(5000)); // line 7: past the limit
    lines[7] = JSON.stringify('y'.repeat(1022)); // line 8: 1024 bytes with its quotes, exactly the limit
    const file = join(d, 'in.jsonl');
    writeFileSync(file, `${lines.join('\r\n')}\n`);
    const r = await concur(['map', `${hostile}#length`, file, '--pool', 'thread', '--workers', '2', '--max-line-bytes', '1024']);
    assert.equal(r.code, 1, r.stderr);
    const out = jsonLines(r.stdout);
    assert.equal(out.length, 20_000);
    assert.deepEqual(out[6], { line: 7, error: 'line 7 is longer than the limit of 1024 bytes (--max-line-bytes)' });
    assert.deepEqual(out[7], { line: 8, result: 1022 });
    assert.deepEqual(out[8], { line: 9, result: 'item 9'.length });
    assert.deepEqual(out[19_999], { line: 20_000, result: 'item 20000'.length });
    assert.match(r.stderr, /failed: line 7: line 7 is longer than the limit of 1024 bytes/);
    assert.match(r.stderr, /20000 items, 1 failed/);
  });

  it('by default a line over 64 MiB fails; the lines around it run', { timeout: 90_000 }, async () => {
    const big = `"${'z'.repeat(64 * 1024 * 1024 - 1)}"`; // 64 MiB + 1 byte
    const r = await concur(['map', `${hostile}#length`, '-', '--pool', 'async'], { input: `"a"\n${big}\n"bc"` });
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(jsonLines(r.stdout), [
      { line: 1, result: 1 },
      { line: 2, error: 'line 2 is longer than the limit of 67108864 bytes (--max-line-bytes)' },
      { line: 3, result: 2 },
    ]);
  });

  it('a 256 MiB line with a 1 MiB limit is skipped as it streams: the command stays under 200 MB', { timeout: 120_000 }, async () => {
    const r = start(['map', `${hostile}#length`, '-', '--pool', 'async', '--max-line-bytes', String(1 << 20)], {
      execArgv: ['--import', rssReporter],
    });
    const block = Buffer.alloc(1 << 20, 'q');
    async function* input(): AsyncGenerator<Buffer | string> {
      yield '"first"\n"';
      for (let i = 0; i < 256; i++) yield block;
      yield '"\n"last"\n';
    }
    // a command that stops reading early fails on what it printed, not on our EPIPE
    const fed = await pipeline(Readable.from(input()), r.child.stdin!).then(() => 'all', (err: Error) => err.message);
    const ran = await r.ended;
    assert.equal(ran.code, 1, ran.stderr);
    assert.equal(fed, 'all');
    assert.deepEqual(jsonLines(ran.stdout), [
      { line: 1, result: 5 },
      { line: 2, error: 'line 2 is longer than the limit of 1048576 bytes (--max-line-bytes)' },
      { line: 3, result: 4 },
    ]);
    const rss = Number(/maxrss (\d+) KiB/.exec(ran.stderr)?.[1]);
    assert.ok(rss > 0 && rss < 200 * 1024, `peak RSS ${rss} KiB`);
  });
});
