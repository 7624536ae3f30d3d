// The output of `concur map`: a producer that waits on a congested output many times over
// must not pile listeners onto the stream.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openOutput } from '../../src/cli/output.js';
import { tempDir } from './run-concur.js';

describe('concur map output', () => {
  it('drained() asked many times while congested adds no listener per call (no MaxListenersExceededWarning)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const output = openOutput(join(tempDir(), 'out.jsonl'));
      output.write('x'.repeat(1 << 20)); // past the stream's buffer: congested until written
      assert.equal(output.congested, true);
      const waits = Array.from({ length: 50 }, () => output.drained());
      await Promise.all(waits);
      assert.equal(output.congested, false);
      await output.drained(); // nothing buffered: resolves at once
      await output.end();
      // A warning is emitted on a later tick than the listener that caused it.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.map((w) => w.name), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
