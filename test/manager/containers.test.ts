// The containers of a manager, as CPython's _test_multiprocessing.py tests its
// manager's dict, list, Namespace and Value: API, nesting, iteration, remote errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Empty, Lock, Manager, Process, type DictProxy, type ListProxy } from '../../src/index.js';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { managerTasks } from '../fixtures/manager-tasks.js';

describe('manager containers', () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
  });
  after(() => m.shutdown());

  it('dict: the Map API, update, pop, setdefault, copy', () => {
    const d = m.dict<number>({ count: 100 });
    assert.equal(d.get('count'), 100);
    assert.equal(d.get('missing'), undefined);
    assert.equal(d.set('a', 1), d);
    assert.equal(d.has('a'), true);
    assert.equal(d.size, 2);
    d.update({ b: 2, c: 3 });
    d.update(new Map([['d', 4]]));
    d.update([['e', 5]]);
    assert.deepEqual(d.keys(), ['count', 'a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(d.values(), [100, 1, 2, 3, 4, 5]);
    assert.equal(d.pop('e'), 5);
    assert.equal(d.pop('e', -1), -1);
    assert.throws(() => d.pop('e'), (err: Error) => err instanceof RangeError && /"e"/.test(err.message));
    assert.equal(d.setdefault('a', 9), 1);
    assert.equal(d.setdefault('z', 26), 26);
    assert.equal(d.delete('z'), true);
    assert.equal(d.delete('z'), false);
    const copy = d.copy();
    assert.ok(copy instanceof Map);
    assert.deepEqual([...copy], [...d]);
    const seen: string[] = [];
    d.forEach((v, k) => seen.push(`${k}=${v}`));
    assert.equal(seen[0], 'count=100');
    d.clear();
    assert.equal(d.size, 0);
    assert.deepEqual([...m.dict([['x', 1]])], [['x', 1]]);
  });

  it('list: length, at, set, push, extend, insert, pop, remove, indexOf, count, slice, clear, copy', () => {
    const l = m.list<number>([1, 2, 3]);
    assert.equal(l.length, 3);
    assert.equal(l.at(-1), 3);
    assert.equal(l.at(10), undefined);
    l.set(0, 10);
    l.set(-1, 30);
    assert.throws(() => l.set(3, 0), RangeError);
    assert.equal(l.push(4, 5), 5);
    l.extend(new Set([6, 7]));
    l.insert(0, 0);
    l.insert(-1, 66);
    l.insert(100, 8);
    assert.deepEqual(l.copy(), [0, 10, 2, 30, 4, 5, 6, 66, 7, 8]);
    assert.equal(l.pop(), 8);
    assert.equal(l.pop(0), 0);
    assert.throws(() => l.pop(50), RangeError);
    l.remove(66);
    assert.throws(() => l.remove(66), (err: Error) => err instanceof RangeError && /66/.test(err.message));
    assert.equal(l.indexOf(30), 2);
    assert.equal(l.indexOf(99), -1);
    l.push(5);
    assert.equal(l.count(5), 2);
    assert.deepEqual(l.slice(1, 3), [2, 30]);
    assert.deepEqual(l.slice(-2), [7, 5]);
    l.clear();
    assert.equal(l.length, 0);
    assert.throws(() => l.pop(), /empty/);
  });

  it('list: l[i] reads and l[i] = x writes, negative indexes from the end, as Python', () => {
    const l = m.list(['a', 'b', 'c']);
    assert.equal(l[0], 'a');
    assert.equal(l[-1], 'c');
    l[1] = 'B';
    l[-1] = 'C';
    assert.deepEqual(l.copy(), ['a', 'B', 'C']);
    assert.throws(() => {
      l[5] = 'x';
    }, RangeError);
    assert.equal(l.length, 3);
  });

  it('list equality is deep, as Python compares lists', () => {
    const l = m.list<unknown>([[1, 2], { a: 1 }, [1, 2]]);
    assert.equal(l.count([1, 2]), 2);
    assert.equal(l.indexOf({ a: 1 }), 1);
    l.remove([1, 2]);
    assert.deepEqual(l.copy(), [{ a: 1 }, [1, 2]]);
  });

  it('a proxy as a dict key is found again: setting it twice is one entry, and get, has, setdefault, pop and delete find it', () => {
    const d = m.dict<number, ListProxy<number>>();
    const key = m.list<number>([1]);
    d.set(key, 1);
    d.set(key, 2);
    assert.equal(d.size, 1);
    assert.equal(d.get(key), 2);
    assert.equal(d.has(key), true);
    assert.equal(d.setdefault(key, 9), 2);
    assert.equal(d.pop(key), 2);
    assert.equal(d.size, 0);
    d.update([[key, 3]]);
    assert.equal(d.delete(key), true);
    assert.equal(d.has(key), false);
    d.set(key, 4);
    d.keys()[0]!.push(2); // the key that comes out is a proxy to the same list
    assert.deepEqual(key.copy(), [1, 2]);
    assert.equal(m.dict(new Map([[key, 5]])).get(key), 5);
  });

  it('a dict key that is an object but not a proxy is refused (its copy could never be found again), naming it', () => {
    const d = m.dict<number, unknown>({ a: 1 });
    const refused = (err: Error) => err instanceof TypeError && /key/.test(err.message) && /Array|Object|Date/.test(err.message);
    assert.throws(() => d.set([1, 2], 1), refused);
    assert.throws(() => d.set({ a: 1 }, 1), refused);
    assert.throws(() => d.get(new Date(0)), refused);
    assert.throws(() => d.update([['b', 2], [[1], 3]]), refused);
    assert.deepEqual(d.keys(), ['a'], 'an update with a bad key changes nothing');
    assert.throws(() => m.dict(new Map([[[1], 1]])), refused);
    for (const k of [1, 'x', 10n, true, null, undefined, NaN]) {
      d.set(k, 7);
      assert.equal(d.get(k), 7, String(k));
    }
  });

  it('dict() and update() take pairs: a string, a number or an entry that is not a [key, value] pair is a TypeError naming it, as Python refuses them', () => {
    const pairs = (err: Error) => err instanceof TypeError && /pair/.test(err.message);
    assert.throws(() => m.dict('abc' as never), pairs);
    assert.throws(() => m.dict(5 as never), TypeError);
    const d = m.dict<unknown>({ a: 1 });
    assert.throws(() => d.update('ab' as never), pairs);
    assert.throws(() => d.update([['b', 2], 7] as never), (err: Error) => pairs(err) && /entry 1/.test(err.message));
    assert.deepEqual(d.entries(), [['a', 1]], 'nothing was set');
    assert.deepEqual(m.dict([['k', 'v']]).entries(), [['k', 'v']]);
  });

  it('list() and extend() take an iterable: a number, null or a plain object is a TypeError saying so in the caller\'s terms, as Python\'s list(5) refuses it', () => {
    const iterable = (what: string) => (err: Error) => err instanceof TypeError && err.message.startsWith(`${what} takes an iterable`) && !/\binit\b|\bitems\b is not/.test(err.message);
    assert.throws(() => m.list(5 as never), iterable('list()'));
    assert.throws(() => m.list(null as never), iterable('list()'));
    assert.throws(() => m.list({ a: 1 } as never), iterable('list()'));
    const l = m.list<unknown>([1]);
    assert.throws(() => l.extend(5 as never), iterable('extend'));
    assert.deepEqual(l.slice(), [1], 'nothing was added');
    assert.deepEqual(m.list('ab').slice(), ['a', 'b'], "a string is an iterable of its characters, as in Python's list('ab')");
    assert.deepEqual(m.list(new Set([3, 4])).slice(), [3, 4]);
  });

  it('list: indexOf takes an integer start, as Python\'s index does; a fraction is refused, not a silent -1', () => {
    const l = m.list<number>([1, 2, 3]);
    assert.equal(l.indexOf(3, -1), 2);
    assert.equal(l.indexOf(2, 1), 1);
    assert.throws(() => l.indexOf(2, 0.5), TypeError);
    assert.throws(() => l.indexOf(1, NaN), TypeError);
  });

  it('an item that cannot be sent is named by its place among the items (push, extend, update), not as argument 0', () => {
    const l = m.list<unknown>([1]);
    const named = (where: RegExp) => (err: Error) => err instanceof TypeError && where.test(err.message) && /function cb/.test(err.message) && !/argument 0/.test(err.message);
    const cb = (): void => {};
    assert.throws(() => l.push(2, cb), named(/item 1 of push/));
    assert.throws(() => l.extend([2, 3, { deep: [cb] }]), named(/item 2 of extend.*\.deep\[0\]/));
    const d = m.dict<unknown>();
    assert.throws(() => d.update({ a: 1, b: cb }), named(/entry 1 \(key "b" \(string\)\) of update.*at \[1\]/));
    assert.deepEqual(l.copy(), [1]);
    assert.equal(d.size, 0);
  });

  it('list equality finds 0 for -0 (and -0 for 0), as Python\'s == and JS\'s includes do; NaN finds NaN', () => {
    const l = m.list<number>([1, 0, NaN]);
    assert.equal(l.indexOf(-0), 1);
    assert.equal(l.includes(-0), true);
    assert.equal(l.count(-0), 1);
    assert.equal(l.indexOf(NaN), 2);
    l.remove(-0);
    assert.deepEqual(l.copy(), [1, NaN]);
    assert.equal(m.list<number>([-0]).indexOf(0), 0);
  });

  it('iteration and keys() are snapshots: changing the container while iterating is safe', () => {
    const l = m.list([1, 2, 3]);
    const out: number[] = [];
    for (const x of l) {
      out.push(x);
      l.push(x * 10);
    }
    assert.deepEqual(out, [1, 2, 3]);
    assert.equal(l.length, 6);
    const d = m.dict<number>({ a: 1, b: 2 });
    for (const k of d.keys()) d.delete(k);
    assert.equal(d.size, 0);
  });

  it('namespace: attributes live in the server; names starting with _ stay local', () => {
    const ns = m.namespace<{ x: number; y?: string; _mine?: number }>({ x: 1 });
    assert.equal(ns.x, 1);
    ns.x = 2;
    ns.y = 'why';
    assert.equal(ns.x, 2);
    assert.equal(ns.y, 'why');
    ns._mine = 5;
    assert.equal(ns._mine, 5);
    assert.deepEqual(JSON.parse(JSON.stringify(ns)), { x: 2, y: 'why' });
    assert.equal((ns as Record<string, unknown>).missing, undefined);
  });

  it('namespace: delete and `in` go to the server; Object.keys, spreading and JSON list its names', () => {
    const ns = m.namespace<{ x?: number; y?: string; _mine?: number }>({ x: 1, y: 'why' });
    ns._mine = 5;
    assert.equal('x' in ns, true);
    assert.equal('nope' in ns, false);
    assert.equal('_mine' in ns, true);
    assert.deepEqual(Object.keys(ns), ['x', 'y']);
    assert.deepEqual({ ...ns }, { x: 1, y: 'why' });
    assert.deepEqual(Object.entries(ns), [['x', 1], ['y', 'why']]);
    assert.deepEqual(Reflect.ownKeys(ns).filter((k) => k === 'x' || k === '_ref'), ['x', '_ref']);
    assert.equal(Object.hasOwn(ns, 'y'), true);
    assert.equal(delete ns.x, true);
    assert.equal('x' in ns, false);
    assert.equal(ns.x, undefined);
    assert.equal(delete ns.x, true, 'deleting a missing name is true, as in JS');
    assert.deepEqual(Object.keys(ns), ['y']);
    assert.deepEqual(JSON.parse(JSON.stringify(ns)), { y: 'why' });
    delete ns._mine; // local, as Python's underscore names
    assert.equal('_mine' in ns, false);
    assert.equal(ns._ref.id > 0, true);
    Object.assign(ns, { z: 3 });
    assert.deepEqual({ ...ns }, { y: 'why', z: 3 });
  });

  it("list: reading l[i] out of range is a RangeError, as Python's IndexError (and as writing or deleting there is); l.at(i) keeps JS's undefined", () => {
    const l = m.list<number>([1, 2, 3]);
    assert.equal(l[0], 1);
    assert.equal(l[-1], 3);
    assert.throws(() => l[3], (e) => e instanceof RangeError && /index 3 out of range \(length 3\)/.test(e.message));
    assert.throws(() => l[-4], RangeError);
    assert.throws(() => m.list<number>([])[0], RangeError);
    assert.equal(l.at(3), undefined);
  });

  it("list: delete l[i] removes the item (negative from the end), as Python's del l[i]; out of range is a RangeError", async () => {
    const l = m.list<number>([1, 2, 3, 4]);
    assert.equal(delete l[0], true);
    assert.deepEqual(l.slice(), [2, 3, 4]);
    assert.equal(delete l[-1], true);
    assert.deepEqual(l.slice(), [2, 3]);
    assert.throws(() => delete l[5], RangeError);
    assert.deepEqual(l.slice(), [2, 3]);
    // A list out of a dict, and one sent to another process, delete the same way.
    const d = m.dict<unknown>({ l });
    const again = d.get('l') as ListProxy<number>;
    delete again[1];
    assert.deepEqual(l.slice(), [2]);
    l.push(7, 8);
    const p = new Process({ target: managerTasks.deleteFromList, args: [l, 0] }).start();
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.deepEqual(l.slice(), [7, 8]);
    assert.equal(l.length, 2);
    assert.equal(l[1], 8);
  });

  it('namespace: a delete is seen by another client, and a namespace out of a dict is one too', async () => {
    const ns = m.namespace<{ kept?: number; gone?: number }>({ kept: 1, gone: 2 });
    const d = m.dict<unknown>({ ns });
    const p = new Process({ target: managerTasks.deleteFromNamespace, args: [ns, 'gone', d] }).start();
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.equal('gone' in ns, false);
    assert.deepEqual(Object.keys(ns), ['kept']);
    assert.deepEqual(d.get('seen'), { before: ['kept', 'gone'], after: ['kept'], had: true, has: false });
    const again = d.get('ns') as typeof ns;
    assert.deepEqual(Object.keys(again), ['kept']);
    delete again.kept;
    assert.equal('kept' in ns, false);
  });

  it('namespace: a name Object.prototype also has (valueOf, toString, hasOwnProperty) reads what the server holds', () => {
    const ns = m.namespace<{ valueOf?: unknown; toString?: unknown; hasOwnProperty?: unknown }>({ valueOf: 1 });
    assert.equal(ns.valueOf, 1);
    ns.toString = 'two';
    assert.equal(ns.toString, 'two');
    ns.hasOwnProperty = 3;
    assert.deepEqual({ ...ns }, { valueOf: 1, toString: 'two', hasOwnProperty: 3 });
    delete ns.toString;
    delete ns.valueOf;
    assert.equal(String(ns), '[object NamespaceProxy]', 'once the server has none, the local one again');
  });

  it('value: .value, get and set; any cloneable value', () => {
    const v = m.value<unknown>(1);
    assert.equal(v.value, 1);
    v.value = { deep: [1, 2] };
    assert.deepEqual(v.get(), { deep: [1, 2] });
    v.set('s');
    assert.equal(v.value, 's');
  });

  it('nested proxies: a proxy stored in a container comes back out as a proxy to the same object', () => {
    const inner = m.list<number>([1]);
    const outer = m.dict<unknown>({});
    outer.set('inner', inner);
    (outer.get('inner') as ListProxy<number>).push(2);
    assert.deepEqual(inner.copy(), [1, 2]);
    const ll = m.list<unknown>([inner, m.dict({ k: 'v' })]);
    (ll.at(0) as ListProxy<number>).push(3);
    assert.equal((ll.at(1) as DictProxy<string>).get('k'), 'v');
    assert.deepEqual(inner.copy(), [1, 2, 3]);
    // A proxy popped from its only container still reaches its object.
    const popped = outer.pop('inner') as ListProxy<number>;
    assert.deepEqual(popped.copy(), [1, 2, 3]);
  });

  it('a plain nested value is a copy: changing what get() returned changes nothing in the server', () => {
    const d = m.dict<number[]>({ a: [1] });
    d.get('a')!.push(2);
    assert.deepEqual(d.get('a'), [1]);
  });

  it('remote exceptions keep their class; an unknown type or method is a clear Error', () => {
    const d = m.dict<number>();
    assert.throws(() => d.pop('nope'), RangeError);
    const l = m.list<number>();
    assert.throws(() => l.set(0, 1), RangeError);
    assert.throws(() => l.at('x' as unknown as number), TypeError);
    assert.throws(() => m.create('NoSuchType'), /no type "NoSuchType"/);
    assert.throws(() => (d as unknown as { _call(op: string): unknown })._call('frobnicate'), /no method "frobnicate"/);
  });

  it('queue({ capacityBytes }) sizes a managed queue\'s ring, so larger items fit; an unknown option is refused, not ignored', () => {
    const item = 'x'.repeat(2 << 20);
    assert.throws(() => m.queue<string>({ maxsize: 1 }).putNowait(item), /capacityBytes/, 'over the 1 MiB default');
    const q = m.queue<string>({ maxsize: 2, capacityBytes: 8 << 20 });
    q.putNowait(item);
    q.putNowait(item);
    assert.equal(q.getNowait().length, item.length);
    const jq = m.joinableQueue<string>({ capacityBytes: 4 << 20 });
    jq.putSync(item);
    assert.equal(jq.getSync().length, item.length);
    assert.throws(() => m.queue({ capacity: 1 } as never), (err: Error) => err instanceof TypeError && /unknown option "capacity"/.test(err.message));
  });

  it('queues and primitives keep their Promise and *Sync forms', async () => {
    const q = m.queue<number>({ maxsize: 2 });
    q.putSync(1);
    await q.put(2);
    assert.equal(q.full(), true);
    assert.equal(q.getSync(), 1);
    assert.equal(await q.get(), 2);
    assert.throws(() => q.getNowait(), Empty);
    const jq = m.joinableQueue<string>();
    jq.putSync('job');
    assert.equal(jq.getSync(), 'job');
    jq.taskDone();
    await jq.join();
    const lock = m.lock();
    assert.equal(await lock.acquire(), true);
    assert.equal(lock.acquireSync({ timeout: 10 }), false);
    lock.release();
    const rlock = m.rlock();
    rlock.acquireSync();
    assert.equal(rlock.acquireSync(), true);
    rlock.release();
    rlock.release();
    const sem = m.boundedSemaphore(1);
    assert.equal(sem.acquireSync(), true);
    sem.release();
    assert.throws(() => sem.release());
    const ev = m.event();
    assert.equal(await ev.wait(10), false);
    ev.set();
    assert.equal(ev.waitSync(), true);
    const cond = m.condition(lock);
    await cond.acquire();
    assert.equal(await cond.wait(10), false);
    cond.release();
    const b = m.barrier(1);
    assert.equal(await b.wait(), 0);
    assert.equal(m.semaphore(3).value, 3);
  });

  it("a child connects by address alone: a manager's default authkey is its starter's, which children inherit", { timeout: 60_000 }, async () => {
    const d = m.dict<number>();
    const child = new Process({ target: managerTasks.connectAndCount, args: [m.address, d] }).start();
    await child.join();
    assert.equal(child.exitCode, 0);
    assert.equal(d.get('count'), 3);
  });

  it("connecting to a concur owner that is not a manager says so", async () => {
    const { brokerListening, exportObject } = await import('../../src/proxy/owner.js');
    const ref = exportObject(new Lock());
    const alive = setInterval(() => {}, 1000); // the broker thread keeps nothing alive
    await brokerListening().finally(() => clearInterval(alive));
    await assert.rejects(Manager.connect({ address: ref.addr, authkey: Buffer.from(ref.key, 'hex') }), /is not a manager|did not answer a manager's hello/);
  });

  it('connecting to a TCP peer that accepts and never speaks fails within 10 s, naming the address', { timeout: 60_000 }, async () => {
    const peers: Socket[] = [];
    const silent = createServer((s) => void peers.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const began = performance.now();
      await assert.rejects(Manager.connect({ address: { host: '127.0.0.1', port }, authkey: 'k'.repeat(32) }), new RegExp(`127\\.0\\.0\\.1:${port}.*did not answer`));
      assert.ok(performance.now() - began < 20_000);
    } finally {
      silent.close();
      for (const s of peers) s.destroy();
    }
  });
});
