// Registered types (CPython's BaseManager.register with exposed=): a factory runs in
// the server, and its object's exposed methods are called there through a proxy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defineTasks, Lock, Manager, RemoteError, Thread, type DictProxy } from '../../src/index.js';
import { managerTasks, type Counter } from '../fixtures/manager-tasks.js';

export const localTasks = defineTasks(import.meta.url, {
  incrementIn(c: Counter, times: number): number {
    let last = 0;
    for (let i = 0; i < times; i++) last = c.increment();
    return last;
  },
});

describe('manager.register and manager.create', () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start({ initializer: managerTasks.setGreeting, initargs: ['hello from the initializer'] });
    m.register('Counter', managerTasks.makeCounter);
  });
  after(() => m.shutdown());

  it("a registered type's public methods run in the server; results, async ones too, come back", async () => {
    const c = m.create<Counter>('Counter', 10);
    assert.equal(c.increment(), 11);
    assert.equal(c.increment(5), 16);
    assert.equal(await c.slowly(21), 42);
    assert.equal((c as unknown as { _hidden?: unknown })._hidden, undefined);
  });

  it('remote exceptions keep their class; one of a class this process lacks is a RemoteError naming it', () => {
    const c = m.create<Counter>('Counter');
    assert.throws(() => c.fail('on purpose'), (err: Error) => err instanceof TypeError && err.message === 'on purpose');
    assert.throws(
      () => (c as unknown as { failOwn(m: string): never }).failOwn('its own'),
      (err: Error) => err instanceof RemoteError && err.message === 'CounterError: its own' && (err.cause as { code?: string }).code === 'E_COUNTER',
    );
  });

  it('a method whose answer cannot be sent fails that call; the server goes on serving', () => {
    const c = m.create<Counter & { unsendable(): unknown; unsendableLater(): unknown }>('Counter');
    assert.throws(() => c.unsendable(), (err: Error) => err instanceof TypeError && /the answer to unsendable cannot be sent .*a function/.test(err.message));
    assert.throws(() => c.unsendableLater(), (err: Error) => err instanceof TypeError && /the answer to unsendableLater cannot be sent .*a function/.test(err.message));
    assert.equal(c.increment(), 1);
  });

  it('exposed limits what a proxy can call', () => {
    m.register('Limited', managerTasks.makeCounter, { exposed: ['increment'] });
    const c = m.create<Counter>('Limited');
    assert.equal(c.increment(), 1);
    assert.equal((c as unknown as { fail?: unknown }).fail, undefined);
  });

  it('a self-contained function is a factory too', () => {
    m.register('Box', (v: unknown) => ({ v, get(): unknown { return this.v; }, put(x: unknown): void { this.v = x; } }) as { v: unknown; get(): unknown; put(x: unknown): void });
    const box = m.create<{ get(): unknown; put(x: unknown): void }>('Box', 1);
    box.put([2]);
    assert.deepEqual(box.get(), [2]);
  });

  it('the initializer ran in the server, where the factories run', () => {
    m.register('Greeter', managerTasks.greetingHolder);
    assert.equal(m.create<{ greeting(): string }>('Greeter').greeting(), 'hello from the initializer');
  });

  it('its proxy crosses into a thread and into a container', async () => {
    const c = m.create<Counter>('Counter');
    const t = new Thread({ target: localTasks.incrementIn, args: [c, 100] }).start();
    await t.join();
    assert.equal(c.increment(), 101);
    const d = m.dict<Counter>();
    d.set('c', c);
    assert.equal(d.get('c')!.increment(), 102);
  });

  it('bad registrations are refused with errors naming what was wrong', () => {
    assert.throws(() => m.register('dict', managerTasks.makeCounter), /built-in/);
    assert.throws(() => m.register('', managerTasks.makeCounter), /typeid/);
    assert.throws(() => m.register('X', 'nope' as never), /factory/);
    assert.throws(() => m.register('X', managerTasks.makeCounter, { exposed: 'increment' as never }), /exposed/);
    m.register('Broken', () => 42);
    assert.throws(() => m.create('Broken'), /returned 42 \(number\), not an object/);
    const d: DictProxy<number> = m.dict();
    assert.equal(d.size, 0);
  });

  it("a shared object in initargs is refused, naming where it sits and what to do (it named the server's internal argument)", async () => {
    await assert.rejects(
      Manager.start({ initializer: managerTasks.setGreeting, initargs: ['hi', { guard: new Lock() }] }),
      (err: Error) => err instanceof TypeError && /^Manager\.start: initargs\[1\]\.guard \(a Lock\) cannot go to the manager's server/.test(err.message) && !/concurManagerServer/.test(err.message),
    );
  });
});
