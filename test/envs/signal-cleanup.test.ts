/**
 * A parent holding a Pipe to a child is stopped by SIGINT, SIGTERM or SIGHUP at several
 * moments: what it made on disk (the Pipe's ring file on /dev/shm, anything under its
 * private TMPDIR) is gone, and it died by that signal, as a program that did not catch
 * it would. A program with its own handler keeps control. A SIGKILLed parent's leftover
 * goes when the next concur program makes a ring file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { explain, ringsOf, SIGNALS, withParent } from './signal-helpers.js';

const STAGES = ['unopened', 'opened', 'busy'] as const;
const T = { timeout: 30_000 };

for (const signal of SIGNALS) {
  for (const stage of STAGES) {
    test(`${signal} to a parent whose Pipe is ${stage}: nothing left, and it dies by ${signal}`, T, async () => {
      const { run, pid, tmpLeft, readyRings } = await withParent([stage], (pid) => process.kill(pid, signal));
      if (stage === 'unopened') assert.equal(readyRings, 1, 'the ring file no child opened was there when the signal came');
      assert.equal(run.signal, signal, explain(run));
      assert.deepEqual(ringsOf(pid), [], explain(run));
      assert.deepEqual(tmpLeft, [], explain(run));
    });
  }

  test(`a program with its own ${signal} handler keeps control, and what it uses stays until it exits`, T, async () => {
    const { run, pid, tmpLeft } = await withParent(['unopened', 'own-handler'], (pid) => process.kill(pid, signal));
    assert.match(run.stdout, new RegExp(`^HANDLED ${signal} 1$`, 'm'), explain(run));
    assert.equal(run.code, 0, explain(run));
    assert.deepEqual(ringsOf(pid), [], explain(run));
    assert.deepEqual(tmpLeft, [], explain(run));
  });
}

test('a program with its own handler can go on using its Pipe after the signal', T, async () => {
  const { run } = await withParent(['busy', 'own-handler'], (pid) => process.kill(pid, 'SIGTERM'));
  assert.match(run.stdout, /^HANDLED SIGTERM 0$/m, explain(run));
  assert.match(run.stdout, /^STILL still$/m, explain(run));
  assert.equal(run.code, 0, explain(run));
});

test('Ctrl-C (SIGINT to the whole process group) mid-traffic leaves nothing', T, async () => {
  const { run, pid, tmpLeft } = await withParent(['busy'], (pid) => process.kill(-pid, 'SIGINT'));
  assert.equal(run.signal, 'SIGINT', explain(run));
  assert.deepEqual(ringsOf(pid), [], explain(run));
  assert.deepEqual(tmpLeft, [], explain(run));
});

test('the ring file of a SIGKILLed parent goes when the next concur program makes one', T, async () => {
  const killed = await withParent(['unopened'], (pid) => process.kill(pid, 'SIGKILL'));
  assert.equal(killed.run.signal, 'SIGKILL');
  // SIGKILL leaves the file (nothing runs in a killed process), unless a concur program
  // of another test running beside this one has already swept it.
  assert.ok(ringsOf(killed.pid).length <= 1, 'at most the one ring file');
  const next = await withParent(['opened'], (pid) => process.kill(pid, 'SIGTERM'));
  assert.equal(next.run.signal, 'SIGTERM', explain(next.run));
  assert.deepEqual(ringsOf(killed.pid), [], 'the next program swept it');
  assert.ok(!existsSync(`/dev/shm/concur-pipe-${next.pid}-`));
});
