import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { alive } from '../fixtures/procs.js';
import { own, TSX } from '../fixtures/source.js';

it('when a parent is SIGKILLed, its pool workers and Processes all exit within 2 s', async () => {
  const fixture = fileURLToPath(new URL(own('../fixtures/orphan-parent.ts'), import.meta.url));
  const pidFile = join(mkdtempSync(join(tmpdir(), 'concur-orphans-')), 'pids');
  const parent = spawn(process.execPath, [...TSX, fixture, pidFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: parent.stdout! }).once('line', resolve);
    parent.once('exit', (code) => reject(new Error(`the parent exited early with ${code}`)));
  });
  const { pool, processes } = JSON.parse(line) as { pool: number[]; processes: number[] };
  const pids = [...pool, ...processes];
  assert.equal(pids.length, 5);
  assert.ok(pids.every(alive), 'every child runs before the parent is killed');
  parent.kill('SIGKILL');
  // Bounded wait for a condition (not a race): check every 50 ms, give up at 2 s.
  const deadline = performance.now() + 2000;
  while (pids.some(alive) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(pids.filter(alive), [], 'no child outlived its parent by 2 s');
});
