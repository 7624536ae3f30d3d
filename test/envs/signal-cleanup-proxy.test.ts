/**
 * A parent that has shared a primitive with a child (its broker's socket directory is
 * in its TMPDIR) is stopped by SIGINT, SIGTERM or SIGHUP before and after the child used
 * it: the directory is gone and it died by that signal. A SIGKILLed parent's directory
 * goes when the next program starts a broker in that TMPDIR.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { explain, ringsOf, SIGNALS, withParent } from './signal-helpers.js';
import { startNode } from '../fixtures/run-node.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// The parents here serve their Lock as a proxy (it would cross as shared memory, with no broker).
_crossAsProxies(true);

const T = { timeout: 30_000 };

for (const signal of SIGNALS) {
  for (const stage of ['unopened', 'opened', 'busy'] as const) {
    test(`${signal} to a parent serving a Lock (child ${stage === 'unopened' ? 'not started' : stage}): no socket directory left`, T, async () => {
      const { run, pid, tmpLeft, readyTmp } = await withParent([stage, 'proxy'], (pid) => process.kill(pid, signal));
      assert.equal(readyTmp, 1, `the broker's directory was there when the signal came\n${explain(run)}`);
      assert.equal(run.signal, signal, explain(run));
      assert.deepEqual(tmpLeft, [], explain(run));
      assert.deepEqual(ringsOf(pid), [], explain(run));
    });
  }
}

test("a SIGKILLed owner's socket directory goes when the next program starts its broker there", T, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'envs-sweep-proxy-'));
  const parent = fileURLToPath(new URL('../fixtures/signal-parent.mjs', import.meta.url));
  const env = { ...process.env, TMPDIR: tmp };
  try {
    for (const expected of [1, 1]) {
      // The second run sweeps the first one's directory as it starts its own.
      const node = startNode([parent, 'opened', 'proxy'], { env, timeoutMs: 20_000 });
      const out = await node.waitFor(/^READY \d+ \d+$/m);
      assert.match(out, new RegExp(`^READY 0 ${expected}$`, 'm'));
      process.kill(node.pid, 'SIGKILL');
      await node.done;
      assert.deepEqual(
        readdirSync(tmp).filter((n) => n.startsWith(`concur-${node.pid}-`)).length,
        1,
        'SIGKILL leaves the directory, named by its owner',
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
