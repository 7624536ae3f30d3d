// JSON.stringify of a manager's dict, list or value proxy: what it holds, as
// JSON.stringify of a namespace gives its names, never the proxy's reference. The
// reference carries the key that authenticates to the server (SECURITY.md: a proxy is a
// capability), and JSON.stringify(l) printed it, address and all, into whatever log or
// response the program wrote it to. Python's json.dumps of a proxy raises instead.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager } from '../../src/index.js';

describe('JSON.stringify of a manager proxy', () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
  });
  after(() => m.shutdown());

  it('a list gives its items, a dict its entries, a value its value; none gives the reference or its key', () => {
    const l = m.list<unknown>([1, 'a', [2]]);
    const d = m.dict<unknown>({ x: 1, y: [true] });
    const v = m.value(7);
    assert.equal(JSON.stringify(l), '[1,"a",[2]]');
    assert.equal(JSON.stringify(d), '{"x":1,"y":[true]}');
    assert.equal(JSON.stringify(v), '7');
    const inner = m.list<number>([5]);
    l.push(inner);
    d.set('inner', inner);
    assert.equal(JSON.stringify({ l, d }), '{"l":[1,"a",[2],[5]],"d":{"x":1,"y":[true],"inner":[5]}}');
    for (const text of [JSON.stringify(l), JSON.stringify(d), JSON.stringify(v)]) assert.doesNotMatch(text, /_ref|"key"/);
  });
});
