// An inline Process or Thread target that uses a variable from around it fails with the
// hint a pool task gets, not a bare ReferenceError.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { LIMIT, runProgram } from '../fixtures/run-program.js';
import { INLINE_HINT } from '../../src/pool/worker-runtime.js';

it('an inline Process target and an inline Thread target that use an outer variable fail with the hint', async () => {
  const r = await runProgram('./lifecycle-programs.ts', ['inline'], LIMIT);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Process exit 1/);
  assert.match(r.stdout, /Thread exit 1/);
  // Once for each, and no more: the Thread's error is printed as the parent received it.
  const hinted = r.stderr.split(`secret is not defined${INLINE_HINT}`).length - 1;
  assert.equal(hinted, 2, `the hinted ReferenceError twice in:\n${r.stderr}`);
  assert.equal(r.stderr.split(INLINE_HINT).length - 1, 2, `the hint exactly twice in:\n${r.stderr}`);
  assert.match(r.stderr, /^ReferenceError: secret is not defined/m);
  assert.match(r.stderr, /Exception in thread inline-Thread: /);
});
