import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { Deque } from '../../src/util/deque.js';

it('Deque behaves as an array under any sequence of operations', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('push' as const), value: fc.integer() }),
    fc.record({ kind: fc.constant('unshift' as const), value: fc.integer() }),
    fc.record({ kind: fc.constant('shift' as const) }),
    fc.record({ kind: fc.constant('remove' as const), value: fc.integer({ min: -5, max: 5 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const d = new Deque<number>();
      const model: number[] = [];
      for (const o of ops) {
        if (o.kind === 'push') {
          d.push(o.value);
          model.push(o.value);
        } else if (o.kind === 'unshift') {
          d.unshift(o.value);
          model.unshift(o.value);
        } else if (o.kind === 'shift') {
          assert.equal(d.shift(), model.shift());
        } else {
          const i = model.findIndex((x) => x % 5 === o.value);
          const removed = d.removeFirst((x) => x % 5 === o.value);
          if (i >= 0) assert.equal(removed, model.splice(i, 1)[0]);
          else assert.equal(removed, undefined);
        }
        assert.equal(d.length, model.length);
        assert.equal(d.peek(), model[0]);
      }
      assert.deepEqual([...d], model);
      assert.deepEqual(d.drain(), model);
      assert.equal(d.length, 0);
    }),
    { numRuns: 300 },
  );
});

it('removeFirst of the front item is O(1): taking 50k items out front first is linear', () => {
  const d = new Deque<number>();
  const n = 50_000;
  for (let i = 0; i < n; i++) d.push(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) assert.equal(d.removeFirst((x) => x === i), i);
  const ms = performance.now() - t0;
  assert.equal(d.length, 0);
  // It rebuilt everything behind the item it removed: this took several seconds.
  assert.ok(ms < 2_000, `removing ${n} items front first took ${Math.round(ms)} ms`);
});
