// A proxy put into a managed queue comes out as a proxy to the same object, as one
// stored in a managed dict or list does: at the top of the item or nested in it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DictProxy, ListProxy, Manager } from '../../src/index.js';

describe('proxies through a managed queue', () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
  });
  after(() => m.shutdown());

  it('come out as proxies to the same objects', async () => {
    const q = m.queue();
    const d = m.dict<number>({ a: 1 });
    const l = m.list<number>([1]);
    q.putSync(d);
    const got = q.getSync() as DictProxy<number>;
    assert.ok(got instanceof DictProxy, 'a DictProxy');
    assert.equal(got.get('a'), 1);
    got.set('b', 2);
    assert.equal(d.get('b'), 2, 'the same dict');

    q.putSync({ inner: [l], byName: new Map([['d', d]]) });
    const item = (await q.get()) as { inner: ListProxy<number>[]; byName: Map<string, DictProxy<number>> };
    assert.ok(item.inner[0] instanceof ListProxy);
    item.inner[0]!.push(2);
    assert.deepEqual(l.copy(), [1, 2]);
    assert.equal(item.byName.get('d')!.get('a'), 1);

    q.putNowait([d]);
    assert.ok((q.getNowait() as unknown[])[0] instanceof DictProxy);
  });
});
