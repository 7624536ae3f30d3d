// Task modules that misbehave around the command's own life: ones that hold the event
// loop, never finish loading, or lack the task asked for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { real } from '../fixtures/source.js';
import { concur, hostile } from './run-concur.js';

const lingering = real(new URL('../fixtures/cli-lingering-tasks.mjs', import.meta.url));
const neverLoads = real(new URL('../fixtures/cli-never-loads.mjs', import.meta.url));

describe('concur map: a task module that holds the event loop', () => {
  for (const pool of ['process', 'thread', 'async']) {
    it(`the command ends after its summary on the ${pool} pool (a timer the module started does not hold it)`, { timeout: 60_000 }, async () => {
      const r = await concur(['map', `${lingering}#identity`, '--range', '0..3', '--pool', pool, '--workers', '1'], { timeoutMs: 20_000 });
      assert.doesNotMatch(r.stderr, /\[test\] killed/, 'the command hung after its summary');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^3 items, 0 failed/m);
      assert.equal(r.stdout.trim().split('\n').length, 3);
    });
  }

  it('a task on the async pool that leaves a timer does not hold the command', { timeout: 60_000 }, async () => {
    const r = await concur(['map', `${lingering}#leavesTimer`, '--range', '0..3', '--pool', 'async'], { timeoutMs: 20_000 });
    assert.doesNotMatch(r.stderr, /\[test\] killed/, 'the command hung after its summary');
    assert.equal(r.code, 0, r.stderr);
  });

  it('a usage error (no such task there) still ends the command, exit 2', { timeout: 60_000 }, async () => {
    const r = await concur(['map', `${lingering}#nope`, '--range', '0..3'], { timeoutMs: 20_000 });
    assert.doesNotMatch(r.stderr, /\[test\] killed/, 'the command hung after its usage error');
    assert.equal(r.code, 2, r.stderr);
  });
});

describe('concur map: a task module whose import never ends', () => {
  it('is a usage error that says so (exit 2), not a silent exit 13', { timeout: 60_000 }, async () => {
    const r = await concur(['map', `${neverLoads}#identity`, '--range', '0..3'], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cli-never-loads\.mjs/);
    assert.match(r.stderr, /never finish|top-level await/);
  });
});

describe('concur map: a task name the module does not define', () => {
  it('is a usage error that names the tasks it does define', { timeout: 60_000 }, async () => {
    const r = await concur(['map', `${hostile}#identiti`, '--range', '0..3']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no task named "identiti"/);
    assert.match(r.stderr, /identity/);
    assert.match(r.stderr, /bigintAt50/);
  });
});
