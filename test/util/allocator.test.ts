import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { own, TSX } from '../fixtures/source.js';

const fixture = fileURLToPath(new URL(own('../fixtures/malloc-faults.ts'), import.meta.url));
const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
const faultsPerClone = (mode: string): number =>
  Number(execFileSync(process.execPath, [...TSX, fixture, mode], { encoding: 'utf8' }).trim());

it('raiseMallocThresholds stops 1 MiB messages to a worker from faulting in fresh pages', { skip: glibc === undefined && 'only glibc has dynamic malloc thresholds' }, () => {
  // How many pages glibc's own dynamic thresholds leave to fault varies with timing: at
  // load 10 one fresh process faulted 54 times a clone. The most of three is the control.
  let plain = faultsPerClone('plain');
  for (let i = 0; i < 2 && plain <= 100; i++) plain = Math.max(plain, faultsPerClone('plain'));
  const raised = faultsPerClone('raise');
  // A 1 MiB trip copies 4 times (1,024 pages); without the raise hundreds of them are fresh every time.
  assert.ok(plain > 100, `expected the plain allocator to fault, got ${plain} faults per clone`);
  assert.ok(raised < plain / 4, `expected far fewer faults after the raise: ${raised} vs ${plain} per clone`);
});
