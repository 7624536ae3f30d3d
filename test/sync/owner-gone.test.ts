// Whether a process is gone (src/sync/shm-tree.ts) decides whether a waiter takes a lock
// over from its holder, a Lock's or a SharedQueue's internal lock: a live process must
// never be reported gone, even when the asking process cannot read /proc because it has
// run out of file descriptors (EMFILE).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { own, TSX } from '../fixtures/source.js';

const probe = fileURLToPath(new URL(own('../fixtures/emfile-probe.ts'), import.meta.url));

describe('isProcessGone', { skip: process.platform === 'linux' ? false : '/proc is Linux only' }, () => {
  it('does not report a live process gone when /proc cannot be read for want of file descriptors', () => {
    const r = spawnSync('bash', ['-c', `ulimit -Sn 128; exec "${process.execPath}" ${TSX.join(' ')} "${probe}"`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const { full, gone } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { full: boolean; gone: boolean };
    assert.equal(full, true, 'the probe ran out of file descriptors');
    assert.equal(gone, false, 'its live parent was reported gone');
  });
});
