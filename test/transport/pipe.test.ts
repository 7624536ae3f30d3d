import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EOFError, Pipe, ProcessPoolExecutor, Thread, ThreadPoolExecutor } from '../../src/index.js';
import { children, pipeTasks } from '../fixtures/children.js';

describe('Pipe', () => {
  it('carries structured-cloned values both ways in one process', async () => {
    const [a, b] = Pipe();
    a.send({ n: 1, when: new Date(0), set: new Set([1]) });
    assert.deepEqual(await b.recv(), { n: 1, when: new Date(0), set: new Set([1]) });
    b.send('back');
    assert.equal(await a.recv(), 'back');
  });

  it('poll answers at once by default, waits up to a timeout, or until data with null', async () => {
    const [a, b] = Pipe();
    assert.equal(await b.poll(), false);
    assert.equal(await b.poll(10), false);
    const waiting = b.poll(null);
    a.send(1);
    assert.equal(await waiting, true);
    assert.equal(await b.poll(), true);
    assert.equal(await b.recv(), 1);
    await assert.rejects(b.poll(-1), RangeError);
  });

  it('a one-way pipe refuses the wrong direction', async () => {
    const [r, w] = Pipe({ duplex: false });
    assert.throws(() => r.send(1), /only receives/);
    await assert.rejects(w.recv(), /only sends/);
    w.send(2);
    assert.equal(await r.recv(), 2);
  });

  it('after close, the other end drains then gets EOFError; the closed end refuses use', async () => {
    const [a, b] = Pipe();
    a.send(1);
    a.close();
    assert.equal(await b.recv(), 1);
    await assert.rejects(b.recv(), EOFError);
    assert.throws(() => a.send(2), /closed/);
  });

  it('an end given to a second Thread is refused by a clear error naming the rule; the first thread keeps it', async () => {
    const [here, there] = Pipe();
    const t = new Thread({ target: children.echo, args: [there] }).start();
    assert.throws(() => new Thread({ target: children.echo, args: [there] }).start(), /passed to a Thread, a Process or a pool task and now lives there: an end lives in one place/);
    here.send('still');
    assert.equal(await here.recv(), 'STILL');
    here.send('bye');
    await t.join();
  });

  it('an end passed to a Thread arrives usable there', async () => {
    const [here, there] = Pipe();
    const t = new Thread({ target: children.echo, args: [there] }).start();
    here.send('thread');
    assert.equal(await here.recv(), 'THREAD');
    here.send('bye');
    await t.join();
    assert.equal(t.exitCode, 0);
  });
});

describe('Pipe ends as pool task arguments', () => {
  it('an end passed to a thread-pool task moves there and works', async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const [here, there] = Pipe<string>();
    const f = pool.submit(pipeTasks.greetOver, there, 'pool');
    assert.equal(await here.recv(), 'hello pool');
    here.send('thanks');
    assert.equal(await f, 'got thanks');
    assert.equal(there.closed, true, 'the end given away is closed here');
    const again = pool.submit(pipeTasks.greetOver, there, 'again');
    assert.match(String(await again.exception()), /passed to a Thread, a Process or a pool task and now lives there/);
  });

  it('a process-pool task refuses an end with a clear error, and the pool goes on', async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const [, there] = Pipe<string>();
    await assert.rejects(pool.submit(pipeTasks.greetOver, there, 'p').result(), /cannot be passed to a process-pool task yet/);
    assert.equal(there.closed, false);
    assert.equal(await pool.submit((x: number) => x + 1, 1), 2);
  });
});

describe('Thread', () => {
  it('runs its target on a worker thread sharing SharedArrayBuffers; start twice throws', async () => {
    const view = new Int32Array(new SharedArrayBuffer(4));
    const t = new Thread({ target: children.store, args: [view, 42], name: 'writer' });
    assert.equal(t.isAlive(), false);
    t.start();
    assert.throws(() => t.start(), /only be started once/);
    await t.join();
    assert.equal(view[0], 42);
    assert.equal(t.exitCode, 0);
    assert.equal(t.name, 'writer');
  });

  it('terminate() stops a thread in a synchronous loop', async (ctx) => {
    ctx.mock.method(console, 'error', () => {});
    const t = new Thread({ target: children.spinForever }).start();
    await t.join(20);
    assert.equal(t.isAlive(), true);
    t.terminate();
    await t.join();
    assert.equal(t.isAlive(), false);
  });
});
