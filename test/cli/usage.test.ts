// Item 11 of issue 11: every usage error exits 2 (as the README promises), said in one
// line, before any work starts; an unwritable --output is one of them.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { concur, hostile, tempDir } from './run-concur.js';

describe('concur: usage errors exit 2', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['--workers 0', ['--workers', '0'], /--workers must be an integer >= 1/],
    ['--workers abc', ['--workers', 'abc'], /--workers must be an integer >= 1/],
    ['--workers 1.5', ['--workers', '1.5'], /--workers must be an integer >= 1/],
    ['--chunksize 0', ['--chunksize', '0'], /--chunksize must be an integer >= 1/],
    ['--retries -1', ['--retries', '-1'], /--retries must be an integer >= 0/],
    ['--timeout x', ['--timeout', 'x'], /--timeout must be an integer >= 1/],
    ['--max-line-bytes 0', ['--max-line-bytes', '0'], /--max-line-bytes must be an integer >= 1/],
    ['--pool fiber', ['--pool', 'fiber'], /--pool.*fiber.*async, thread, process/],
    ['an unknown flag', ['--bogus'], /unknown option '--bogus'/],
    ['a missing option value', ['--workers'], /option '--workers <n>' argument missing/],
  ];
  for (const [name, flags, message] of cases) {
    it(`${name}: exit 2 and says why`, { timeout: 30_000 }, async () => {
      const r = await concur(['map', `${hostile}#identity`, '--range', '0..3', ...flags]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    });
  }

  it('an unknown command and no command at all: exit 2', { timeout: 30_000 }, async () => {
    const unknown = await concur(['frobnicate']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const none = await concur([]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /Usage: concur/);
  });

  it('--version (and -V) prints the package version, exit 0', { timeout: 30_000 }, async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url.replace(/\/build\/test-js\/\d+\//, '/')), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await concur([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  it('--help still exits 0', { timeout: 30_000 }, async () => {
    const r = await concur(['map', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--max-line-bytes/);
  });
});

describe('concur map --output that cannot be written', () => {
  const targets: Array<[string, (d: string) => string, RegExp]> = [
    ['in a directory that does not exist', (d) => join(d, 'no', 'such', 'dir', 'out.jsonl'), /ENOENT/],
    ['that is a directory', (d) => (mkdirSync(join(d, 'isdir')), join(d, 'isdir')), /EISDIR/],
  ];
  for (const [name, target, code] of targets) {
    it(`${name}: one line, exit 2, no task ran`, { timeout: 30_000 }, async () => {
      const d = tempDir();
      const out = target(d);
      const mark = join(d, 'ran.txt');
      const r = await concur(['map', `${hostile}#mark`, '--range', '0..5', '--pool', 'process', '--workers', '1', '--output', out], {
        env: { ...process.env, CONCUR_TEST_MARK: mark },
      });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr); // one line and its newline
      assert.match(r.stderr, new RegExp(`^concur: cannot write the output ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*`));
      assert.match(r.stderr, code);
      assert.equal(existsSync(mark), false, existsSync(mark) ? `tasks ran: ${readFileSync(mark, 'utf8')}` : '');
    });
  }

  it('a writable --output still gets every line (the mark task ran 5 times)', { timeout: 30_000 }, async () => {
    const d = tempDir();
    const mark = join(d, 'ran.txt');
    const r = await concur(['map', `${hostile}#mark`, '--range', '0..5', '--pool', 'process', '--workers', '1', '--output', join(d, 'out.jsonl')], {
      env: { ...process.env, CONCUR_TEST_MARK: mark },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(d, 'out.jsonl'), 'utf8').trim().split('\n').length, 5);
    assert.equal(readFileSync(mark, 'utf8').trim().split('\n').length, 5);
  });
});

describe('concur map --output that is the input file', () => {
  for (const how of ['by the same path', 'through a link to it']) {
    it(`${how}: a usage error (exit 2), the input left as it was`, { timeout: 30_000 }, async () => {
      const d = tempDir();
      const input = join(d, 'in.jsonl');
      writeFileSync(input, '1\n2\n3\n');
      let out = input;
      if (how !== 'by the same path') symlinkSync(input, (out = join(d, 'link.jsonl')));
      const r = await concur(['map', `${hostile}#identity`, input, '--output', out]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /is the input/);
      assert.equal(readFileSync(input, 'utf8'), '1\n2\n3\n', 'the input was truncated before it was read');
    });
  }
});
