import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { Histogram } from '../../src/util/histogram.js';

it('Histogram percentiles stay within 7% of the exact nearest-rank percentile', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 1e9, noNaN: true })), { minLength: 1, maxLength: 500 }),
      fc.constantFrom(1, 50, 90, 99, 100),
      (values, p) => {
        const h = new Histogram();
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        const exact = sorted[Math.max(1, Math.ceil((p / 100) * values.length)) - 1]!;
        const got = h.percentile(p);
        assert.ok(Math.abs(got - exact) <= Math.max(1, exact * 0.07), `p${p}: got ${got}, exact ${exact}`);
        assert.equal(h.count, values.length);
        assert.equal(h.max, sorted[sorted.length - 1]);
      },
    ),
    { numRuns: 500 },
  );
});

it('an empty Histogram reports zeros', () => {
  const h = new Histogram();
  assert.equal(h.percentile(50), 0);
  assert.equal(h.max, 0);
});
