// An argument of a Process or Thread that cannot be cloned: start() throws a TypeError that
// names the argument, what it is and the target, in the pools' words (the bare v8 error,
// `()=>1 could not be cloned.`, said none of it), without the function's source.
import assert from 'node:assert/strict';
import { createServer, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { LifoQueue, Manager, Pipe, PriorityQueue, Process, Queue, Thread } from '../../src/index.js';
import { HasSymbol } from '../fixtures/subclass-fn-field.js';

function refused(start: () => unknown, message: RegExp): void {
  assert.throws(start, (err: unknown) => {
    assert.ok(err instanceof TypeError, `not a TypeError: ${String(err)}`);
    assert.match(err.message, message);
    assert.ok(err.cause !== undefined, 'the clone error is its cause');
    return true;
  });
}

describe('an argument of a Process or Thread that cannot be cloned', () => {
  it('a Process names the argument, its kind and the target', () => {
    const p = new Process({ target: function add(a: number, f: () => number) { return a + f(); }, args: [1, () => 1] });
    refused(() => p.start(), /^argument 1 \(function <anonymous>\) of Process target inline function add cannot be sent to a child process: .*could not be cloned/);
    assert.equal(p.isAlive(), false);
  });

  it('a Thread names the argument, its kind and the target', () => {
    const t = new Thread({ target: function add(a: number, f: () => number) { return a + f(); }, args: [1, () => 1] });
    refused(() => t.start(), /^argument 1 \(function <anonymous>\) of Thread target inline function add cannot be sent to a thread: DataCloneError: .*could not be cloned/);
    assert.equal(t.isAlive(), false);
  });

  it('after a refused start() the object is as before it: join() rejects as for one never started (it waited for ever), exitCode stays null', async () => {
    const p = new Process({ target: (f: () => number) => f(), args: [() => 1] });
    const t = new Thread({ target: (f: () => number) => f(), args: [() => 1] });
    assert.throws(() => p.start(), TypeError);
    assert.throws(() => t.start(), TypeError);
    await assert.rejects(p.join(), /can only join a started process/);
    await assert.rejects(t.join(), /can only join a started thread/);
    await assert.rejects(p.join(10), /can only join a started process/);
    assert.equal(p.exitCode, null);
    assert.equal(t.exitCode, null);
  });

  it('a host object is named by its class, and no function source is quoted', async () => {
    const server = createServer().listen(0);
    await new Promise((r) => server.once('listening', r));
    const socket = new Socket().connect((server.address() as { port: number }).port);
    try {
      for (const r of [new Process({ target: (s: unknown) => s, args: [socket] }), new Thread({ target: (s: unknown) => s, args: [socket] })]) {
        refused(() => r.start(), /^argument 0 \(Socket\) of (Process|Thread) target /);
        assert.throws(() => new Process({ target: (s: unknown) => s, args: [socket] }).start(), (err: Error) => !/[{}\n]/.test(err.message));
      }
    } finally {
      socket.destroy();
      server.close();
    }
  });

  it('a Queue (asyncio.Queue: one thread only) is refused, naming the argument and SharedQueue, where it arrived as a plain object without its methods', async () => {
    // Python's start() fails to pickle a queue.Queue; here the child got { maxsize: 0 }
    // and failed later with "q.putNowait is not a function".
    for (const q of [new Queue<number>(), new LifoQueue<number>(), new PriorityQueue<number>()]) {
      for (const r of [new Process({ target: (n: number, x: Queue<number>) => x.putNowait(n), args: [1, q] }), new Thread({ target: (n: number, x: Queue<number>) => x.putNowait(n), args: [1, q] })]) {
        assert.throws(() => r.start(), (err: unknown) => {
          assert.ok(err instanceof TypeError, `not a TypeError: ${String(err)}`);
          assert.match(err.message, /^argument 1 \((a|an) (Queue|LifoQueue|PriorityQueue)\) of (Process|Thread) target .*use a Shared(Lifo|Priority)?Queue/);
          return true;
        });
        assert.equal(r.isAlive(), false);
      }
    }
    const [a, b] = Pipe();
    try {
      assert.throws(() => a.send(new Queue<number>()), /the value sent \(a Queue\).*SharedQueue/);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a subclass names the field', () => {
    refused(() => new HasSymbol().start(), /^field "tag" \(symbol\) of Process subclass HasSymbol .* cannot be sent to a child process: /);
  });

  it('a Manager proxy call names the argument and the method', { timeout: 60_000 }, async () => {
    const m = await Manager.start();
    try {
      const d = m.dict<unknown>();
      assert.throws(() => d.set('f', () => 1), (err: unknown) => {
        assert.ok(err instanceof TypeError, `not a TypeError: ${String(err)}`);
        assert.match(err.message, /argument 1 \(function <anonymous>\) of set .*cannot be sent/);
        return true;
      });
    } finally {
      await m.shutdown();
    }
  });
});
