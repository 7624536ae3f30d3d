import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownedPrefix, ownerOf, processAlive, sweepDeadOwners } from '../../src/util/leftovers.js';
import { onExitCleanup, pendingExitCleanups, runExitCleanups } from '../../src/util/exit-cleanup.js';

/** The pid of a process that has ended (reused this soon only by a rare coincidence). */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  return Number(pid);
}

test('names carry the owner pid, and only names made that way are read as owned', () => {
  assert.equal(ownedPrefix('concur-'), `concur-${process.pid}-`);
  assert.equal(ownerOf(`concur-pipe-123-abc`, 'concur-pipe-'), 123);
  assert.equal(ownerOf(`concur-123-x`, 'concur-'), 123);
  assert.equal(ownerOf('concur-aB3xYz', 'concur-'), undefined); // mkdtemp's random name: no owner known
  assert.equal(ownerOf('concur-123', 'concur-'), undefined);
  assert.equal(ownerOf('concur-123-', 'concur-'), undefined);
  assert.equal(ownerOf('concur-pipe-123-abc', 'concur-'), undefined);
  assert.equal(ownerOf('other-123-x', 'concur-'), undefined);
});

test('processAlive: this process and its parent are, an ended one is not', () => {
  assert.equal(processAlive(process.pid), true);
  assert.equal(processAlive(process.ppid), true);
  assert.equal(processAlive(deadPid()), false);
});

test('a sweep removes the entries of dead owners only, once per folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envs-sweep-'));
  try {
    const dead = deadPid();
    mkdirSync(join(dir, `concur-${dead}-dir`));
    writeFileSync(join(dir, `concur-${dead}-dir`, 'broker.sock'), '');
    writeFileSync(join(dir, `concur-${dead}-file`), '');
    mkdirSync(join(dir, `concur-${process.pid}-mine`));
    mkdirSync(join(dir, `concur-${process.ppid}-parent`));
    mkdirSync(join(dir, 'concur-Ab12Cd'));
    writeFileSync(join(dir, `unrelated-${dead}-x`), '');
    assert.deepEqual(sweepDeadOwners(dir, 'concur-').sort(), [`concur-${dead}-dir`, `concur-${dead}-file`]);
    assert.deepEqual(readdirSync(dir).sort(), ['concur-Ab12Cd', `concur-${process.pid}-mine`, `concur-${process.ppid}-parent`, `unrelated-${dead}-x`].sort());
    writeFileSync(join(dir, `concur-${dead}-later`), '');
    assert.deepEqual(sweepDeadOwners(dir, 'concur-'), [], 'a folder is swept once per process');
    assert.deepEqual(sweepDeadOwners(join(dir, 'missing'), 'concur-'), [], 'an unreadable folder is no error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exit cleanups run once each, an unregistered one never, and signal listeners stay only while one is registered', () => {
  const before = process.listenerCount('SIGTERM');
  const ran: string[] = [];
  const offA = onExitCleanup(() => ran.push('a'));
  onExitCleanup(() => {
    throw new Error('a failing cleanup stops no other');
  });
  onExitCleanup(() => ran.push('c'));
  assert.equal(process.listenerCount('SIGTERM'), before + 1);
  offA();
  assert.equal(pendingExitCleanups(), 2);
  runExitCleanups();
  runExitCleanups();
  assert.deepEqual(ran, ['c']);
  assert.equal(pendingExitCleanups(), 0);
  assert.equal(process.listenerCount('SIGTERM'), before);
  const off = onExitCleanup(() => ran.push('d'));
  assert.equal(process.listenerCount('SIGINT'), process.listenerCount('SIGHUP'));
  off();
  assert.equal(process.listenerCount('SIGTERM'), before);
});
