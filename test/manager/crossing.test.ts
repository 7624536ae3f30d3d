// Proxies cross into processes, threads, pool tasks and Pipes as arguments and arrive
// usable; another process connects by address and authkey; a wrong key is refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticationError, EOFError, Manager, Pipe, Process, ProcessPoolExecutor, sleep, Thread, ThreadPoolExecutor, type ListProxy } from '../../src/index.js';
import { managerTasks } from '../fixtures/manager-tasks.js';
import { stopProcess } from '../fixtures/stop.js';

describe('manager proxies across processes and threads', () => {
  const authkey = 'a key for the tests';
  let dir: string;
  let m: Manager;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'concur-mgr-'));
    m = await Manager.start({ address: join(dir, 'm.sock'), authkey });
  });
  after(async () => {
    await m.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens at the address it was given', () => {
    assert.equal(m.address, join(dir, 'm.sock'));
  });

  it('into a Process, a Thread, a process-pool task, a thread-pool task and through a Pipe', { timeout: 60_000 }, async () => {
    const d = m.dict<unknown>({ inner: m.list<string>() });
    const l = m.list<number>();
    const ns = m.namespace({ x: 0 });
    const [a, b] = Pipe();
    const p = new Process({ target: managerTasks.useProxies, args: [d, l, ns, 'process', b] }).start();
    a.send(l); // through a Pipe too
    await p.join();
    assert.equal(p.exitCode, 0);
    const t = new Thread({ target: managerTasks.useProxies, args: [d, l, ns, 'thread'] }).start();
    await t.join();
    assert.equal(t.exitCode, 0);
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    assert.equal(await pool.submit(managerTasks.useProxies, d, l, ns, 'pool'), 4);
    await using threads = new ThreadPoolExecutor({ maxWorkers: 1 });
    assert.equal(await threads.submit(managerTasks.useProxies, d, l, ns, 'threads'), 5);
    assert.deepEqual(l.copy(), [0, 99, 2, 3, 4]);
    assert.equal(ns.x, 4);
    assert.deepEqual((d.get('inner') as ListProxy<string>).copy(), ['process', 'thread', 'pool', 'threads']);
    assert.deepEqual([d.get('process'), d.get('thread'), d.get('pool'), d.get('threads')], [0, 2, 3, 4]);
  });

  it('a proxy leaving for a Process while its server is stalled (SIGSTOP) does not hold the sender: it crosses bare, and works once the server runs again', { timeout: 60_000 }, async () => {
    const stalled = await Manager.start({ address: join(dir, 'stalled.sock'), authkey });
    try {
      const d = stalled.dict<number>({ count: 3 });
      await stopProcess(stalled.pid);
      const started = performance.now();
      let p: Process<Parameters<typeof managerTasks.decrement>>;
      try {
        // Its hold (a round trip to the server, made before the proxy leaves) gets no answer.
        p = new Process({ target: managerTasks.decrement, args: [d, 'count', 1] }).start();
      } finally {
        process.kill(stalled.pid, 'SIGCONT');
      }
      const took = performance.now() - started;
      await p.join();
      assert.equal(p.exitCode, 0);
      assert.equal(d.get('count'), 2, 'the child decremented through the proxy that crossed bare');
      // The wait for the hold is bounded (5 s and the callers' 1 s grace); unbounded, start() never returned.
      assert.ok(took < 20_000, `start() returned after ${Math.round(took)} ms`);
    } finally {
      await stalled.shutdown();
    }
  });

  it('a namespace crosses into tasks, Threads, Processes, Pipes and queue items and back: delete and `in` reach the server', { timeout: 60_000 }, async () => {
    const ns = m.namespace<Record<string, number>>({ a: 1, b: 2, c: 3, d: 4, e: 5 });
    await using threads = new ThreadPoolExecutor({ maxWorkers: 1 });
    const fromThread = await threads.submit(managerTasks.dropName, ns, 'a');
    assert.deepEqual(fromThread.left, ['b', 'c', 'd', 'e']);
    assert.equal('a' in ns, false);
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const fromProcess = await pool.submit(managerTasks.dropName, ns, 'b');
    assert.deepEqual(fromProcess.left, ['c', 'd', 'e']);
    assert.equal(fromProcess.ns._ref.id, ns._ref.id, 'a result holding a namespace is sent');
    // Deeper in a pool task's argument it is sent as its data (not revived there: only top-level arguments are).
    assert.equal(await threads.submit(managerTasks.nestedId, { inner: [ns] }), ns._ref.id);
    assert.equal(await pool.submit(managerTasks.nestedId, { inner: [ns] }), ns._ref.id);
    // A Thread (or a Process) refuses it there rather than start a target that finds no methods on it.
    assert.throws(() => new Thread({ target: managerTasks.nestedId, args: [{ inner: [ns] }] }).start(), /^TypeError: argument 0 \.inner\[0\] \(a proxy of a Namespace\)/);
    const t = new Thread({ target: managerTasks.dropName, args: [ns, 'c'] }).start();
    await t.join();
    assert.equal('c' in ns, false);
    const [here, there] = Pipe();
    const p = new Process({ target: managerTasks.dropNameFromPipe, args: [there] }).start();
    here.send(ns);
    here.send('d');
    const back = (await here.recv()) as Record<string, number>;
    assert.deepEqual(Object.keys(back), ['e'], 'one that came back through the Pipe asks the server');
    await p.join();
    assert.equal(p.exitCode, 0);
    const q = m.queue();
    q.putSync({ inner: [ns] });
    const got = ((await q.get()) as { inner: Array<Record<string, number>> }).inner[0]!;
    assert.deepEqual(Object.keys(got), ['e']);
    delete got.e;
    assert.deepEqual({ ...ns }, {});
  });

  it('a client connects by address and authkey; a connected client cannot shut the manager down', async () => {
    const other = await Manager.connect({ address: m.address, authkey });
    await assert.rejects(other.shutdown(), /only from the process that started it/);
    const l = other.list([1]);
    assert.equal(l.length, 1);
    await other.close();
    assert.throws(() => other.list(), /closed/);
    assert.equal(l.length, 1); // its proxies keep working
  });

  it('a wrong authkey gets AuthenticationError; no manager at the address is a clear error', async () => {
    await assert.rejects(Manager.connect({ address: m.address, authkey: 'wrong' }), AuthenticationError);
    await assert.rejects(Manager.connect({ address: join(dir, 'nobody.sock'), authkey }), /cannot reach a manager at .*nobody\.sock/);
  });

  it('bad options are refused with errors naming them', async () => {
    await assert.rejects(Manager.start({ authkey: '' }), /authkey/);
    await assert.rejects(Manager.start({ adress: 'x' } as never), /unknown option "adress"/);
    await assert.rejects(Manager.start({ address: `/${'x'.repeat(200)}` }), /over the Unix limit/);
    await assert.rejects(Manager.start({ address: m.address, authkey }), /already in use/);
    await assert.rejects(Manager.start({ initializer: 'setup' as never }), /initializer must be a function, got "setup"/);
    await assert.rejects(Manager.start({ initializer: managerTasks.failingInitializer }), /the initializer failed on purpose/);
  });

  it('shutdown() called twice at once: the second resolves only once the server is gone, as the first', { timeout: 60_000 }, async () => {
    const other = await Manager.start({ authkey });
    const first = other.shutdown();
    await other.shutdown();
    assert.throws(() => process.kill(other.pid, 0), { code: 'ESRCH' }, 'the server process has exited');
    await first;
  });

  it('a proxy of a manager that was shut down never reaches the objects of the next one started at its address: EOFError', { timeout: 60_000 }, async () => {
    const address = join(dir, 'again.sock');
    const first = await Manager.start({ address, authkey });
    const d = first.dict<string>({ a: 'first' });
    const l = first.list<string>(['first']);
    const v = first.value('first');
    assert.equal(d.get('a'), 'first');
    await first.shutdown();
    const second = await Manager.start({ address, authkey });
    try {
      const d2 = second.dict<string>({ a: 'second' });
      const l2 = second.list<string>(['second']);
      const v2 = second.value('second');
      const gone = (err: Error) => err instanceof EOFError && err.message.includes(`pid ${first.pid}`);
      assert.throws(() => d.get('a'), gone);
      assert.throws(() => l.push('lost'), gone);
      assert.throws(() => v.value, gone);
      assert.throws(() => {
        v.value = 'clobbered';
      }, gone);
      assert.deepEqual([d2.get('a'), l2.copy(), v2.value], ['second', ['second'], 'second']);
    } finally {
      await second.shutdown();
    }
  });

  it('two managers started at once at one address: one serves there, the other fails naming it, and does not remove the socket of the one that serves', { timeout: 60_000 }, async () => {
    const address = join(dir, 'race.sock');
    const results = await Promise.allSettled([Manager.start({ address, authkey }), Manager.start({ address, authkey })]);
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      assert.equal(won.length, 1, results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'started')).join('; '));
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.match(String(lost.reason), /EADDRINUSE|in use/);
      assert.equal(won[0]!.dict({ a: 1 }).get('a'), 1);
      const other = await Manager.connect({ address, authkey });
      assert.equal(other.list([2]).at(0), 2);
    } finally {
      for (const w of won) await w.shutdown();
    }
  });

  it('once the server is gone, every waiting and later call fails with EOFError naming it (this test shuts it down)', { timeout: 60_000 }, async () => {
    const d = m.dict<number>({ a: 1 });
    const lock = m.lock();
    lock.acquireSync();
    const waiting = assert.rejects(lock.acquire(), EOFError); // waits: the lock is held
    const q = m.queue<number>();
    const getting = assert.rejects(q.get(), EOFError);
    await m.shutdown();
    await waiting;
    await getting;
    assert.throws(() => d.get('a'), (err: Error) => err instanceof EOFError && err.message.includes(m.address as string));
    assert.throws(() => m.list(), /shut down/);
  });


  it('a manager restarts at the same address: after a shutdown, and after its server was killed', { timeout: 60_000 }, async () => {
    const again = await Manager.start({ address: m.address, authkey });
    assert.equal(again.dict({ a: 1 }).get('a'), 1);
    process.kill(again.pid, 'SIGKILL'); // leaves its socket behind
    for (const until = performance.now() + 10_000; performance.now() < until; await sleep(20)) {
      try {
        process.kill(again.pid, 0);
      } catch {
        break;
      }
    }
    await assert.rejects(Manager.connect({ address: m.address, authkey }), /cannot reach a manager/);
    const third = await Manager.start({ address: m.address, authkey });
    assert.equal(third.list([2]).at(0), 2);
    await third.shutdown();
    await again.shutdown();
  });
});

describe('a manager on TCP', () => {
  it('restarted at its port with the same authkey: proxies of the server before fail with EOFError, never reaching the new objects', { timeout: 60_000 }, async () => {
    const authkey = 'tcp restart';
    const first = await Manager.start({ address: { host: '127.0.0.1', port: 0 }, authkey });
    const d = first.dict<string>({ a: 'first' });
    const l = first.list<string>(['first']);
    assert.equal(d.get('a'), 'first');
    await first.shutdown();
    const second = await Manager.start({ address: first.address, authkey });
    try {
      const d2 = second.dict<string>({ a: 'second' });
      const l2 = second.list<string>(['second']);
      const gone = (err: Error) => err instanceof EOFError && err.message.includes(`pid ${first.pid}`);
      assert.throws(() => d.get('a'), gone);
      assert.throws(() => l.push('lost'), gone);
      assert.throws(() => d.set('a', 'clobbered'), gone);
      assert.deepEqual([d2.get('a'), l2.copy()], ['second', ['second']]);
    } finally {
      await second.shutdown();
    }
  });

  it('needs an explicit authkey', async () => {
    await assert.rejects(Manager.start({ address: { host: '127.0.0.1', port: 0 } }), /TCP needs an explicit authkey/);
    await assert.rejects(Manager.start({ address: { host: '127.0.0.1', port: 70000 }, authkey: 'k' }), /port/);
  });

  it('port 0 picks one; another process connects and writes; a SIGKILLed client holding its lock has it released', { timeout: 60_000 }, async () => {
    const authkey = 'tcp key';
    await using m = await Manager.start({ address: { host: '127.0.0.1', port: 0 }, authkey });
    const { host, port } = m.address as { host: string; port: number };
    assert.equal(host, '127.0.0.1');
    assert.ok(port > 0);
    const d = m.dict<string>();
    const lock = m.lock();
    const ready = m.event();
    const p = new Process({ target: managerTasks.connectWriteAndHold, args: [m.address, authkey, d, lock, ready] }).start();
    assert.equal(await ready.wait(30_000), true);
    assert.equal(d.get('child'), 'child');
    assert.match(d.get('shutdown')!, /only from the process that started it/);
    p.kill();
    assert.equal(await lock.acquire({ timeout: 5_000 }), true);
    await p.join();
    await assert.rejects(Manager.connect({ address: { host, port }, authkey: 'wrong' }), AuthenticationError);
  });
});
