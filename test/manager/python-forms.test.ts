// Python's spellings of a manager's calls that a port writes as they were.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager } from '../../src/index.js';

describe("a manager's calls in Python's form", () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
  });
  after(() => m.shutdown());

  it("value(typecode, init), as Python's manager.Value('i', 0): the value is init (it was the typecode, 'i')", () => {
    const v = m.value('i', 0);
    assert.equal(v.value, 0);
    v.value += 1;
    assert.equal(v.value, 1);
    assert.equal(m.value('d', 1.5).value, 1.5);
    assert.equal(m.value('x').value, 'x', 'one argument is the value, as before');
    assert.throws(() => (m.value as (...a: unknown[]) => unknown)(0, 1), (e) => e instanceof TypeError && /typecode/.test(e.message));
  });

  it("new Manager(), as Python's Manager(): a TypeError that says how a manager is made", () => {
    const Made = Manager as unknown as new (...a: unknown[]) => Manager;
    for (const args of [[], [{}], [{ authkey: 'k' }]]) {
      assert.throws(() => new Made(...args), (e) => e instanceof TypeError && /Manager\.start\(\)/.test(e.message) && /Manager\.connect\(/.test(e.message), String(args));
    }
  });
});
