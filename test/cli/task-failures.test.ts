// Tasks that end badly in ways a try/catch in the task cannot see: a process.exit, a
// timeout. The failure names the user's task, and the rest of the run goes on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { concur, hostile, jsonLines, tempDir } from './run-concur.js';

const rest = (stdout: string): unknown[] => jsonLines(stdout).filter((o) => o.line !== 3);

describe('concur map: the failure of a task that crashes its worker or times out', () => {
  for (const pool of ['process', 'thread']) {
    it(`process.exit on the ${pool} pool names the task, not the command's internal chunk task`, { timeout: 60_000 }, async () => {
      const r = await concur(['map', `${hostile}#exitsAt2`, '--range', '0..5', '--pool', pool, '--workers', '2', '--chunksize', '1']);
      assert.equal(r.code, 1, r.stderr);
      const third = jsonLines(r.stdout).find((o) => o.line === 3);
      assert.match(third?.error ?? '', /^WorkerCrashedError: .*task exitsAt2 .*exited with code 3/, r.stdout);
      assert.doesNotMatch(r.stdout + r.stderr, /applyChunk|chunks\/chunk-/);
      assert.deepEqual(rest(r.stdout), [0, 1, 3, 4].map((x) => ({ line: x + 1, result: x })));
    });
  }

  for (const pool of ['process', 'thread']) {
    it(`--retries runs again an item whose worker crashed (a flaky process.exit) on the ${pool} pool`, { timeout: 60_000 }, async () => {
      const mark = join(tempDir(), 'crashed');
      const r = await concur(['map', `${hostile}#exitsOnceAt2`, '--range', '0..5', '--pool', pool, '--workers', '2', '--chunksize', '1', '--retries', '1'], {
        env: { ...process.env, CONCUR_TEST_MARK: mark },
      });
      assert.equal(readFileSync(mark, 'utf8'), 'crashed\n', 'it crashed once');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(jsonLines(r.stdout), [0, 1, 2, 3, 4].map((x) => ({ line: x + 1, result: x })));
    });
  }

  it('--timeout names the task that timed out', { timeout: 60_000 }, async () => {
    const r = await concur(['map', `${hostile}#spinsAt2`, '--range', '0..5', '--pool', 'process', '--workers', '2', '--chunksize', '1', '--timeout', '1000']);
    assert.equal(r.code, 1, r.stderr);
    const third = jsonLines(r.stdout).find((o) => o.line === 3);
    assert.match(third?.error ?? '', /^TimeoutError: task spinsAt2 .*timed out after 1000 ms/, r.stdout);
    assert.doesNotMatch(r.stdout + r.stderr, /applyChunk|chunks\/chunk-/);
    assert.deepEqual(rest(r.stdout), [0, 1, 3, 4].map((x) => ({ line: x + 1, result: x })));
  });

  it('--timeout on the async pool names the task that timed out too', { timeout: 60_000 }, async () => {
    const r = await concur(['map', `${hostile}#sleepy`, '--range', '0..2', '--pool', 'async', '--chunksize', '1', '--timeout', '20']);
    assert.equal(r.code, 1, r.stderr);
    for (const o of jsonLines(r.stdout)) assert.match(o.error ?? '', /^TimeoutError: task sleepy .*timed out after 20 ms/, r.stdout);
    assert.doesNotMatch(r.stdout + r.stderr, /applyChunk/);
  });

  it('--timeout on the async pool: a chunk that timed out runs no further item (it ran on beside the chunks after it)', { timeout: 60_000 }, async () => {
    // One chunk at a time, 10 items of 50 ms each: every chunk times out after a few.
    const r = await concur(['map', `${hostile}#busyAsync`, '--range', '0..40', '--pool', 'async', '--workers', '1', '--chunksize', '10', '--timeout', '200']);
    assert.equal(r.code, 1, r.stderr);
    const started = [...r.stderr.matchAll(/task (\d+) started/g)].map((m) => Number(m[1]));
    for (let k = 0; k < 3; k++) {
      const next = started.indexOf(10 * (k + 1));
      if (next < 0) continue;
      const late = started.slice(next).filter((x) => Math.floor(x / 10) === k);
      assert.deepEqual(late, [], `items of chunk ${k} started after chunk ${k + 1} had begun: ${started.join(' ')}`);
    }
  });

  it('process.exit on the async pool fails its item; it does not end the command without its results and summary', { timeout: 60_000 }, async () => {
    const r = await concur(['map', `${hostile}#exitsAt2`, '--range', '0..5', '--pool', 'async', '--chunksize', '1']);
    assert.equal(r.code, 1, r.stderr);
    const third = jsonLines(r.stdout).find((o) => o.line === 3);
    assert.match(third?.error ?? '', /process\.exit\(3\)/, r.stdout);
    assert.deepEqual(rest(r.stdout), [0, 1, 3, 4].map((x) => ({ line: x + 1, result: x })));
    assert.match(r.stderr, /^5 items, 1 failed/m);
  });
});
