// A primitive, a proxy or a Pipe end crosses into a thread or process as an argument of its
// own or as a value sent by itself. Nested in an object, an array, a Map or a Set it was
// structured-cloned into a plain object, and the target failed later on a missing method
// (`o.lock.acquireSync is not a function`): start() and send() now refuse it, naming where
// it sits, before anything has moved or been sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Event, Lock, Pipe, Process, Thread, Value } from '../../src/index.js';
import { Adder } from '../fixtures/subclass-tasks.js';
import { children } from '../fixtures/children.js';

/** Asserts that start() refuses; a child it started anyway (the old behaviour) is stopped. */
async function refusesStart(r: Process<any> | Thread<any>, message: RegExp): Promise<void> {
  try {
    assert.throws(() => r.start(), (err: unknown) => {
      assert.ok(err instanceof TypeError, `not a TypeError: ${String(err)}`);
      assert.match(err.message, message);
      return true;
    });
    assert.equal(r.isAlive(), false);
  } finally {
    if (r.isAlive()) {
      r.kill();
      await r.join();
    }
  }
}

const AS_ITSELF = /pass it as an argument of its own/;

describe('a primitive or a Pipe end nested in a value that crosses', () => {
  it('a Process refuses one inside an argument, naming the argument, the path, the kind and the target', async () => {
    const lock = new Lock();
    const v = new Value('i32', 0);
    const nested = (o: { lock: Lock; v: Value<'i32'> }): void => {
      o.lock.acquireSync();
      o.v.value = 1;
    };
    await refusesStart(new Process({ target: nested, args: [{ lock, v }] }), /^argument 0 \.lock \(a Lock\) of Process target .*nested.*cannot cross/);
    await refusesStart(new Process({ target: nested, args: [1, [v]] as never }), /^argument 1 \[0\] \(a Value\) of Process/);
    await refusesStart(new Process({ target: nested, args: [{ lock, v }] }), AS_ITSELF);
  });

  it('a refused Process start moves nothing: a Pipe end beside the nested primitive still works here', async () => {
    const [here, there] = Pipe();
    const ev = new Event();
    await refusesStart(new Process({ target: (c: unknown) => c, args: [there, new Map([['k', ev]])] as never }), /^argument 1 \.<entry 0>\.value \(an Event\)/);
    there.send('still here');
    assert.equal(await here.recv(), 'still here');
  });

  it('a Thread refuses one the same way, in a Set or deeper', async () => {
    const ev = new Event();
    const lock = new Lock();
    await refusesStart(new Thread({ target: function nested(o: unknown) { return o; }, args: [{ lock }] }), /^argument 0 \.lock \(a Lock\) of Thread target .*nested.*cannot cross/);
    await refusesStart(new Thread({ target: (s: unknown) => s, args: [{ a: [1, { b: new Set([ev]) }] }] }), /^argument 0 \.a\[1\]\.b\.<item 0> \(an Event\)/);
  });

  it('a subclass refuses one inside a field', async () => {
    const v = new Value('i32', 0);
    await refusesStart(new Adder({ v } as never, 1), /^field "total" \.v \(a Value\) of Thread subclass Adder/);
  });

  it('a Pipe refuses one inside a sent value, and sends nothing', async () => {
    const [a, b] = Pipe();
    const lock = new Lock();
    assert.throws(() => a.send({ lock }), /^TypeError: the value sent \.lock \(a Lock\) cannot cross/);
    assert.throws(() => a.send([1, { deep: [new Event()] }]), /^TypeError: the value sent \[1\]\.deep\[0\] \(an Event\)/);
    assert.throws(() => a.send({ lock }), /send it by itself/);
    assert.equal(await b.poll(), false);
    // By itself it still crosses as itself.
    a.send(lock);
    assert.ok((await b.recv()) instanceof Lock);
  });

  it('a Pipe refuses a Pipe end, by itself or nested (it would arrive as an empty object)', () => {
    const [a] = Pipe();
    const [c] = Pipe();
    assert.throws(() => a.send(c), /^TypeError: the value sent \(a Pipe end\) cannot cross/);
    assert.throws(() => a.send({ c }), /^TypeError: the value sent \.c \(a Pipe end\) cannot cross/);
    assert.equal(c.closed, false);
  });

  it('a cycle is walked once: without a primitive it crosses whole, with one it is refused', async () => {
    const [a, b] = Pipe();
    const o: Record<string, unknown> = { n: 1 };
    o.self = o;
    o.list = [o, new Map([[o, o]])];
    a.send(o);
    const got = (await b.recv()) as Record<string, unknown>;
    assert.equal(got.self, got);
    const bad: Record<string, unknown> = {};
    bad.self = bad;
    bad.x = [bad, new Lock()];
    assert.throws(() => a.send(bad), /^TypeError: the value sent \.x\[1\] \(a Lock\)/);
  });

  it('a deep value is walked without recursion, and a long path is shortened', async () => {
    const [a, b] = Pipe();
    let deep: Record<string, unknown> = { end: true };
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    // v8's own clone gives up on such depth with its RangeError; the walk must not be what fails first.
    assert.throws(() => a.send(deep), (err: unknown) => err instanceof RangeError && !/cannot cross/.test(String(err)));
    let shallow: Record<string, unknown> = { end: true };
    for (let i = 0; i < 500; i++) shallow = { d: shallow };
    a.send(shallow);
    assert.ok(await b.recv());
    let holding: Record<string, unknown> = { lock: new Lock() };
    for (let i = 0; i < 1000; i++) holding = { d: holding };
    assert.throws(() => a.send(holding), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /^the value sent \.d\.d.*\.\.\..*\.d\.lock \(a Lock\)/);
      assert.ok(err.message.length < 1000, `${err.message.length} characters`);
      return true;
    });
  });
  it('a typed array is not walked member by member (its keys are its indices), at the top of an argument or a Pipe value as deeper', async () => {
    // The walk took Object.keys of an argument that structured clone copies whole: every
    // index of a view as a string, ~4 s of a Thread's start() for the 12.5 MB view the
    // SharedQueue torture passes, and the same for a Pipe send of a large typed array.
    // An own property of a view (which no clone copies) tells whether the walk looked in.
    let reads = 0;
    const probe = <T extends object>(view: T): T => Object.defineProperty(view, 'probe', { enumerable: true, get: () => reads++ });
    const shared = probe(new Int32Array(new SharedArrayBuffer(8)));
    const t = new Thread({ target: children.store, args: [shared, 7] }).start();
    await t.join();
    assert.equal(t.exitCode, 0);
    assert.equal(Atomics.load(shared, 0), 7);
    const [a, b] = Pipe();
    a.send(probe(new Float64Array(4)));
    a.send(probe(Buffer.alloc(4)));
    a.send(probe(new DataView(new ArrayBuffer(4))));
    for (let i = 0; i < 3; i++) await b.recv();
    assert.equal(reads, 0, 'the walk read a member of a typed array');
  });
});
