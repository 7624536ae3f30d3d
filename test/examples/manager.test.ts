// The tutorials' Manager program (scenario 5: a manager dict decremented by many
// processes) runs here, so it never rots.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runExample } from './run-example.js';

describe('examples: the Manager program', () => {
  it('manager.ts: processes decrement a manager dict; decrements are lost without a lock, none with it', { timeout: 120_000 }, async () => {
    const out = await runExample('manager.ts', '10', '20');
    assert.match(out, /^a manager dict \{ count: 200 \}; 10 processes each decrement it 20 times$/m);
    const unlocked = /^without a lock: count = (\d+)/m.exec(out);
    assert.ok(unlocked, out);
    assert.ok(Number(unlocked[1]) > 0, `expected lost decrements without the lock:\n${out}`);
    assert.match(out, /^with manager\.lock\(\): count = 0 \(exact\)$/m);
  });
});
