// Lifetime: the server frees an object once no proxy or container refers to it (a
// garbage-collected proxy counts down); a client that dies drops its references and
// the locks it held.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Event, Manager, Pipe, Process, sleep, sleepSync, Thread, type DictProxy, type ListProxy } from '../../src/index.js';
import { managerTasks } from '../fixtures/manager-tasks.js';
import { runNode } from '../fixtures/run-node.js';
import { callManaged } from '../../src/manager/managed-calls.js';
import { toProxy } from '../../src/proxy/proxies.js';
import { own, TSX } from '../fixtures/source.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage until `m.objectCount()` is `expected` (finalizers and decrefs run in later turns); the last count seen. */
async function settlesAt(m: Manager, expected: number, deadlineMs = 20_000): Promise<number> {
  const until = performance.now() + deadlineMs;
  let n = m.objectCount();
  while (n !== expected && performance.now() < until) {
    gc();
    await sleep(20);
    n = m.objectCount();
  }
  return n;
}

/** What the server holds, one line per object (its type, id and counts). */
function objectTypes(proxy: object): string[] {
  const ref = (proxy as { _ref: { root: number } })._ref;
  return callManaged({ ...ref, id: ref.root } as never, 'objectTypes', []) as string[];
}

/** How the server counts the object of `proxy` ('callers=N contained=M'), or 'freed'. */
function countsOf(proxy: object, id = (proxy as { _ref: { id: number } })._ref.id): string {
  const line = objectTypes(proxy).find((l) => l.includes(`#${id} `));
  return line === undefined ? 'freed' : line.slice(line.indexOf(' ') + 1);
}

/** Collects garbage until `done()` holds, or 20 s pass; whether it held. */
async function until(done: () => boolean, deadlineMs = 20_000): Promise<boolean> {
  for (const end = performance.now() + deadlineMs; !done(); ) {
    if (performance.now() > end) return false;
    gc();
    await sleep(50);
  }
  return true;
}

describe('manager lifetime', () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
  });
  after(() => m.shutdown());

  it('objects are freed once their proxies are garbage-collected: the count returns to its baseline', async () => {
    const baseline = m.objectCount();
    const kept = m.dict<unknown>();
    // In a function of its own: a suspended async function keeps its dead locals alive.
    const round = (i: number): void => {
      const inner = m.list([i]);
      const outer = m.dict<unknown>({ inner });
      outer.set('ns', m.namespace({ i }));
      (outer.get('inner') as ListProxy<number>).push(1);
      m.lock();
      m.queue();
      m.condition();
    };
    for (let i = 0; i < 20; i++) round(i);
    kept.set('kept', m.list([1]));
    assert.ok(m.objectCount() > baseline + 2);
    // What remains: `kept` and the list inside it.
    assert.equal(await settlesAt(m, baseline + 2), baseline + 2);
    kept.clear();
    assert.equal(await settlesAt(m, baseline + 1), baseline + 1);
  });

  it('a call through a proxy of an object that was freed says so (it never waits)', () => {
    const d = m.dict<unknown>();
    const ref = { ...(d as unknown as { _ref: object })._ref };
    // Another thread's decref could do this: count it down to nothing by hand.
    const root = { ...ref, id: (ref as { root: number }).root };
    return (async () => {
      const { callRemoteSync } = await import('../../src/proxy/client.js');
      callRemoteSync(root as never, 'decref', [[(ref as { id: number }).id]]);
      assert.throws(() => d.size, /no longer exists in its manager/);
    })();
  });

  it('a client that dies drops its references: objects only it held are freed', { timeout: 60_000 }, async () => {
    const ready = m.event();
    const holder = m.dict<unknown>();
    // In a function of its own, so that this thread's proxy of the list can be collected.
    const fill = (): number => {
      const list = m.list([1, 2]);
      holder.set('list', list);
      return (list as unknown as { _ref: { id: number } })._ref.id;
    };
    const id = fill();
    // Counted by id, not in total: objects of earlier tests may be freed meanwhile.
    const listAt = (): string | undefined => objectTypes(holder).find((t) => t.startsWith(`list#${id} `));
    // The child takes the list out of the holder: from then on only the child refers to it.
    const p = new Process({ target: managerTasks.takeAndHang, args: [holder, ready] }).start();
    assert.equal(await ready.wait(30_000), true);
    assert.equal(holder.size, 0);
    assert.ok(await until(() => /callers=1 contained=0/.test(listAt() ?? '')), `only the child holds the list: ${listAt()}`);
    p.kill();
    await p.join();
    assert.ok(await until(() => listAt() === undefined), `the list was freed: ${listAt()}`);
  });

  /**
   * A new list [1, 2, 3] in a new dict, which once this thread's proxy of the list is
   * collected is all that refers to it; `listAt()` is its line in the server ('gone' once freed).
   */
  async function listOnlyInHolder(): Promise<{ holder: DictProxy<unknown>; listAt: () => string }> {
    const holder = m.dict<unknown>();
    // In a function of its own, so that this thread's proxy of the list can be collected.
    const fill = (): number => {
      const list = m.list([1, 2, 3]);
      holder.set('list', list);
      return (list as unknown as { _ref: { id: number } })._ref.id;
    };
    const id = fill();
    const listAt = (): string => objectTypes(holder).find((t) => t.startsWith(`list#${id} `)) ?? 'gone';
    assert.ok(await until(() => /callers= contained=1/.test(listAt())), `only the holder holds the list: ${listAt()}`);
    return { holder, listAt };
  }

  it("a proxy a thread handed on just before it ended survives the end of the thread's connection", { timeout: 60_000 }, async () => {
    const { holder } = await listOnlyInHolder();
    const [here, there] = Pipe();
    const t = new Thread({ target: managerTasks.handOnAndEnd, args: [holder, there] }).start();
    await t.join();
    assert.equal(t.exitCode, 0);
    await sleep(200); // the thread's helper and its connection are gone by now
    const list = (await here.recv()) as ListProxy<number>;
    assert.deepEqual(list.copy(), [1, 2, 3]);
  });

  it('a proxy a child process sent down a Pipe just before it exited lives until its receiver takes it in, however late', { timeout: 60_000 }, async () => {
    const { holder, listAt } = await listOnlyInHolder();
    const [here, there] = Pipe();
    // The child takes the list out of the holder, sends it and exits: from then on only
    // the message refers to it. This thread does not take the message in (its event loop
    // is held) until the server has dropped the child's count, its connection gone.
    const p = new Process({ target: managerTasks.handOnAndEnd, args: [holder, there] }).start();
    const deadline = performance.now() + 30_000;
    const childCountGone = (): boolean => holder.size === 0 && (listAt() === 'gone' || /callers= /.test(listAt()));
    while (!childCountGone() && performance.now() < deadline) sleepSync(20);
    assert.ok(childCountGone(), `the child's count of the list went with its connection: ${listAt()}`);
    const list = (await here.recv()) as ListProxy<number>;
    assert.deepEqual(list.copy(), [1, 2, 3]);
    await p.join();
    assert.equal(p.exitCode, 0);
    // Taken in, the message's hold gives way to this thread's count (told without waiting for an answer).
    assert.ok(await until(() => /callers=1 contained=0/.test(listAt())), `counted here, the hold gone: ${listAt()}`);
    assert.deepEqual(list.copy(), [1, 2, 3]); // alive until here: until() collects garbage
  });

  it('a proxy relayed by this process between two children is held once: taken in, no hold is left', { timeout: 60_000 }, async () => {
    const holder = m.dict<unknown>();
    const id = ((): number => {
      const list = m.list([1, 2, 3]);
      holder.set('list', list);
      return (list as unknown as { _ref: { id: number } })._ref.id;
    })();
    const listAt = (): string => objectTypes(holder).find((t) => t.startsWith(`list#${id} `)) ?? 'gone';
    // The receiver's end goes first: the sender's messages then reach it through this
    // process, which hands on the sender's crossing (and its hold) as it came.
    const [a, b] = Pipe();
    const got = new Event();
    const end = new Event();
    const receiver = new Process({ target: managerTasks.keepFromPipe, args: [b, got, end] }).start();
    try {
      const sender = new Process({ target: managerTasks.handOnAndEnd, args: [holder, a] }).start();
      await sender.join();
      assert.equal(sender.exitCode, 0);
      assert.equal(await got.wait(30_000), true);
      // The receiver's count alone: no hold waits for an arrival that will never come.
      assert.ok(await until(() => /callers=1 contained=0/.test(listAt())), `the receiver alone holds the list: ${listAt()}`);
      end.set();
      await receiver.join();
      assert.equal(receiver.exitCode, 0);
      assert.ok(await until(() => listAt() === 'gone'), `the list was freed with its receiver: ${listAt()}`);
    } finally {
      end.set();
      receiver.kill();
    }
  });

  it('a hold nobody takes in (its receiver never came) goes after its time, and the object with it; a hostile hold is refused', { timeout: 60_000 }, async () => {
    process.env.CONCUR_TEST_HOLD_MS = '1500';
    let other: Manager;
    try {
      other = await Manager.start();
    } finally {
      delete process.env.CONCUR_TEST_HOLD_MS;
    }
    try {
      const holder = other.dict<unknown>();
      // The crossing form of a list, as a Process argument or a Pipe message would carry
      // it, made and never sent; then this thread's proxy goes.
      const listOf = (id: number): string => objectTypes(holder).find((t) => t.startsWith(`list#${id} `)) ?? 'gone';
      const cross = (): number => {
        const list = other.list([1]);
        const form = toProxy(list) as { _held?: string; _ref: { id: number } };
        assert.equal(typeof form._held, 'string', 'the crossing carries a ticket');
        // The hold is made before the crossing form is handed back (one round trip).
        assert.match(listOf(form._ref.id), /contained=1$/);
        return form._ref.id;
      };
      const id = cross();
      // This thread's proxy collected, only the hold kept it: the list goes once the hold expires.
      assert.ok(await until(() => listOf(id) === 'gone'), `the hold expired and the list was freed: ${listOf(id)}`);
      const root = { ...(holder as unknown as { _ref: { root: number } })._ref, id: (holder as unknown as { _ref: { root: number } })._ref.root };
      assert.throws(() => callManaged(root as never, 'hold', [1, 'x'.repeat(97)]), /a hold needs a ticket/);
      assert.throws(() => callManaged(root as never, 'hold', [1, 42]), /a hold needs a ticket/);
      assert.equal(callManaged(root as never, 'hold', [987654, 'no such object']), false);
      callManaged(root as never, 'arrived', [987654, 'never held']); // changes nothing
    } finally {
      await other.shutdown();
    }
  });

  it('a client SIGKILLed holding a manager Lock, RLock and Condition has them released within a second', { timeout: 60_000 }, async () => {
    const lock = m.lock();
    const rlock = m.rlock();
    const cond = m.condition();
    const ready = m.event();
    const p = new Process({ target: managerTasks.holdAndHang, args: [ready, lock, rlock, cond] }).start();
    assert.equal(await ready.wait(30_000), true);
    assert.equal(lock.locked(), true);
    assert.equal(rlock.acquireSync({ blocking: false }), false);
    p.kill();
    await p.join();
    // Timed from when this process saw the death (a loaded machine may take a while to reap it).
    const killedAt = performance.now();
    assert.equal(await lock.acquire({ timeout: 5_000 }), true);
    assert.equal(await rlock.acquire({ timeout: 5_000 }), true);
    assert.equal(await cond.acquire({ timeout: 5_000 }), true);
    const took = performance.now() - killedAt;
    assert.ok(took < 1_000, `released ${Math.round(took)} ms after the death was seen`);
    lock.release();
    rlock.release();
    cond.release();
  });

  it('a proxy given back as the default of dict.pop is counted for the caller: dropping that copy keeps the object', { timeout: 60_000 }, async () => {
    const d = m.dict<unknown>();
    const inner = m.list<number>([1, 2]);
    (() => {
      const back = d.pop('missing', inner) as ListProxy<number>;
      assert.deepEqual(back.copy(), [1, 2]);
      assert.equal(countsOf(inner), 'callers=2 contained=0', 'the copy given back is counted');
    })();
    assert.ok(await until(() => countsOf(inner) === 'callers=1 contained=0'), countsOf(inner));
    assert.deepEqual(inner.copy(), [1, 2]);
  });

  it('the same proxy stored twice in one call is counted twice: taking one out leaves the other usable', { timeout: 120_000 }, async () => {
    type Stored = { takeOne: () => void; rest: () => unknown };
    const stores: Record<string, (p: ListProxy<number>) => Stored> = {
      push: (p) => {
        const l = m.list<unknown>();
        l.push(p, p);
        return { takeOne: () => void l.pop(0), rest: () => l.at(0) };
      },
      extend: (p) => {
        const l = m.list<unknown>();
        l.extend([p, p]);
        return { takeOne: () => void l.pop(0), rest: () => l.at(0) };
      },
      'list()': (p) => {
        const l = m.list<unknown>([p, p]);
        return { takeOne: () => void l.pop(), rest: () => l.at(0) };
      },
      'nested in list()': (p) => {
        const l = m.list<unknown>([[p, p], [p]]);
        return { takeOne: () => void l.pop(0), rest: () => (l.at(0) as unknown[])[0] };
      },
      'dict()': (p) => {
        const d = m.dict<unknown>({ a: p, b: p });
        return { takeOne: () => void d.delete('a'), rest: () => d.get('b') };
      },
      update: (p) => {
        const d = m.dict<unknown>();
        d.update({ a: p, b: p });
        return { takeOne: () => void d.pop('a'), rest: () => d.get('b') };
      },
      'namespace()': (p) => {
        const ns = m.namespace<Record<string, unknown>>({ a: p, b: p });
        return { takeOne: () => void delete ns.a, rest: () => ns.b };
      },
    };
    const any = m.dict(); // objectTypes asks the root through any proxy
    // Every way at once, each with a list of its own (counted by its id): the drops of this
    // thread's copies come a second after their collection, so one wait serves them all.
    const cases: { how: string; stored: Stored; id: number }[] = [];
    for (const [how, store] of Object.entries(stores)) {
      (() => {
        const inner = m.list<number>([7]);
        const stored = store(inner);
        assert.equal(countsOf(inner).split(' ')[1], 'contained=2', `${how}: both copies counted`);
        stored.takeOne();
        cases.push({ how, stored, id: inner._ref.id });
      })();
    }
    // Once this thread's copies are collected and dropped, only the container's count remains.
    const left = (id: number): string => countsOf(any, id);
    const settled = (id: number): boolean => /^callers= /.test(left(id)) || left(id) === 'freed';
    assert.ok(await until(() => cases.every(({ id }) => settled(id))), cases.map(({ how, id }) => `${how}: ${left(id)}`).join('; '));
    for (const { how, stored, id } of cases) {
      assert.equal(left(id), 'callers= contained=1', how);
      const rest = (): ListProxy<number> => stored.rest() as ListProxy<number>;
      assert.deepEqual(rest().copy(), [7], how);
    }
  });

  it('a proxy used as a dict key is counted while the key is there', { timeout: 60_000 }, async () => {
    const d = m.dict<number, unknown>();
    let inner!: ListProxy<number>;
    (() => {
      const key = m.list<number>([3]);
      d.set(key, 1);
      d.clear();
      inner = m.list<number>([4]);
      d.set(inner, 2);
    })();
    assert.equal(countsOf(inner).split(' ')[1], 'contained=1');
    d.clear();
    assert.equal(countsOf(inner).split(' ')[1], 'contained=0');
  });

  it('extend with 600,000 items works, as Python\'s, and counts the proxy among them once', { timeout: 60_000 }, async () => {
    const l = m.list<unknown>();
    const inner = m.list([1]);
    const items: unknown[] = Array.from({ length: 600_000 }, (_, i) => i);
    items.push(inner);
    l.extend(items);
    assert.equal(l.length, 600_001);
    assert.equal(countsOf(inner).split(' ')[1], 'contained=1');
    l.clear();
    assert.equal(countsOf(inner).split(' ')[1], 'contained=0');
  });

  it('a put sent ahead into an unbounded queue lands before shutdown() stops the server: the program ends cleanly', { timeout: 60_000 }, async () => {
    const program = new URL(own('../fixtures/manager-put-then-shutdown.ts'), import.meta.url).pathname;
    const run = await runNode([...TSX, program], { timeoutMs: 50_000 });
    assert.equal(run.timedOut, false, 'the program ended by itself');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^shut down$/m);
  });

  it('a program that never shuts its manager down still ends, and its server with it', { timeout: 60_000 }, async () => {
    const program = new URL(own('../fixtures/manager-program.ts'), import.meta.url).pathname;
    const run = await runNode([...TSX, program], { timeoutMs: 50_000 });
    assert.equal(run.timedOut, false, 'the program ended by itself');
    assert.equal(run.code, 0, run.stderr);
    const pid = Number(/^server (\d+) says a = 1$/m.exec(run.stdout)?.[1]);
    assert.ok(pid > 0, run.stdout);
    const gone = (): boolean => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    for (const until = performance.now() + 10_000; !gone() && performance.now() < until; ) await sleep(50);
    assert.equal(gone(), true, `the server (pid ${pid}) ended with its program`);
  });
});
