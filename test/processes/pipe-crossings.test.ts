// A primitive sent down a Pipe into another process (src/sync/shm-crossing.ts, counted
// crossings): the receiver maps its region through /proc/<sender>/fd, so the sender
// keeps the region until the receiver has mapped it, even when it kept no reference to
// the primitive or returned at once; and the receiver maps it as it arrives, not at
// recv(). A receiver that never maps it holds the sender's exit up to a bound, and not
// at all once its process is gone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Event, Lock, Pipe, Process, SharedQueue, Value } from '../../src/index.js';
import { reviveShared } from '../../src/sync/shared.js';
import { toSharedMemory } from '../../src/sync/shm-crossing.js';
import { MAPPED_FIELD, native } from '../../src/sync/shm.js';
import { pipeAckTasks } from '../fixtures/pipe-ack-tasks.js';
import { regionOf, stillOpenAfterGc } from '../fixtures/region-watch.js';

const inMemory = native !== undefined;


/** What `useSent` finds when everything arrived whole. */
const WHOLE = JSON.stringify({ acquired: true, items: [1, 2, 3] });

type Ended = Pick<Process, 'join' | 'exitCode'>;

/** Waits for `sender` to exit cleanly, lets `receiver` receive, and sees what it sent arrive whole. */
async function receivedAfterSenderExited(sender: Ended, receiver: Ended, go: Event, out: SharedQueue<string>): Promise<void> {
  await sender.join();
  assert.equal(sender.exitCode, 0);
  go.set();
  assert.equal(await out.get({ timeout: 30_000 }), WHOLE);
  await receiver.join();
  assert.equal(receiver.exitCode, 0);
}

/** Crossing forms of `q` whose word to acknowledge is junk, as a lying peer's would be. */
function lies(q: SharedQueue<number>): object[] {
  const form = (): Record<string, unknown> => structuredClone(toSharedMemory(q)) as Record<string, unknown>;
  const ring = form()._ring; // a reference to a whole ring, not to one word
  return [ring, 42, { $shmView: 'Float64Array' }, null].map((junk) => ({ ...form(), [MAPPED_FIELD]: junk }));
}

/**
 * Sends a SharedQueue holding 1, 2 (made here and dropped at once) to a child whose event
 * loop is blocked until this process has done all it can to collect the queue; returns
 * what the child found in it, and whether the queue's region was still open here then.
 */
async function sendQueueToLateChild(lieFirst: boolean): Promise<{ answer: unknown; stillOpen: boolean }> {
  const [here, there] = Pipe();
  const ready = new Event();
  const go = new Event();
  const p = new Process({ target: pipeAckTasks.queueBackLate, args: [there, ready, go] }).start();
  assert.equal(await ready.wait(30_000), true);
  const send = (): { fd: number; ino: number } => {
    const q = new SharedQueue<number>(); // its 1 MiB ring is a region of its own, which nothing else keeps
    q.putNowait(1);
    q.putNowait(2);
    if (lieFirst) {
      // Forms whose word to acknowledge is junk: revived, they tell nobody anything and break nothing.
      for (const lie of lies(q)) reviveShared(lie);
      assert.equal(q.qsize(), 2);
    }
    const region = regionOf(q._ring.buffer);
    here.send(q);
    return region;
  };
  // Collected, the ring's region would be unmapped and its descriptor closed: give the GC every chance.
  const stillOpen = await stillOpenAfterGc(send());
  go.set();
  const answer = await here.recv();
  await p.join();
  assert.equal(p.exitCode, 0);
  return { answer, stillOpen };
}

describe('a primitive sent down a Pipe into another process', { skip: inMemory ? false : 'primitives cross as proxies without the native part' }, () => {
  it('arrives whole from a child that sent it and returned at once, though received only after the child exited', { timeout: 60_000 }, async () => {
    const [here, there] = Pipe();
    const p = new Process({ target: pipeAckTasks.sendAndReturn, args: [there] }).start();
    await p.join();
    assert.equal(p.exitCode, 0);
    const lock = (await here.recv()) as Lock;
    assert.equal(lock.constructor.name, 'Lock');
    assert.equal(lock.acquireSync({ timeout: 10_000 }), true);
    lock.release();
    const q = (await here.recv()) as SharedQueue<number>;
    assert.deepEqual([q.getNowait(), q.getNowait(), q.getNowait()], [1, 2, 3]);
  });

  it('stays mappable until a child whose event loop was blocked receives it, though the sender dropped it and collected garbage', { timeout: 60_000 }, async () => {
    const { answer, stillOpen } = await sendQueueToLateChild(false);
    assert.equal(answer, '[1,2]');
    assert.equal(stillOpen, true, "the queue's region was closed before the child mapped it");
  });

  it('from one child to another through both ends of a Pipe, received after the sender exited', { timeout: 60_000 }, async () => {
    const [a, b] = Pipe();
    const go = new Event();
    const out = new SharedQueue<string>();
    const receiver = new Process({ target: pipeAckTasks.receiveAfter, args: [b, go, out] }).start();
    const sender = new Process({ target: pipeAckTasks.sendAndReturn, args: [a] }).start();
    await receivedAfterSenderExited(sender, receiver, go, out);
  });

  it('relayed by the parent onto a ring its receiver reads only when it looks, received after the sender exited', { timeout: 60_000 }, async () => {
    // The receiver's end goes first, so the other end talks to it over IPC and a shared
    // ring; the sender's end then goes through this process, which hands on what the
    // sender counted. A receiver that has received once reads the ring only at recv().
    const [a, b] = Pipe();
    const waiting = new Event();
    const ready = new Event();
    const go = new Event();
    const out = new SharedQueue<string>();
    const receiver = new Process({ target: pipeAckTasks.receiveOneThenAfter, args: [b, waiting, ready, go, out] }).start();
    try {
      assert.equal(await waiting.wait(30_000), true);
      a.send('first');
      assert.equal(await ready.wait(30_000), true);
      const sender = new Process({ target: pipeAckTasks.sendAndReturn, args: [a], env: { ...process.env, CONCUR_TEST_MAPPED_WAIT_MS: '1500' } }).start();
      await receivedAfterSenderExited(sender, receiver, go, out);
    } finally {
      go.set();
      receiver.kill();
    }
  });

  it('whose receiver never maps it holds its sender up to the bound; whose receiver dies, not at all', { timeout: 90_000 }, async () => {
    const BOUND_MS = 1500;
    {
      // The receiver blocks until the sender is gone: the sender waits for it the bound, then exits.
      const [a, b] = Pipe();
      const ready = new Event();
      const go = new Event();
      const out = new SharedQueue<string>();
      const sentAt = new Value('f64', 0);
      const receiver = new Process({ target: pipeAckTasks.receiveLate, args: [b, ready, go, out] }).start();
      try {
        assert.equal(await ready.wait(30_000), true);
        const sender = new Process({
          target: pipeAckTasks.sendAndReturn,
          args: [a, undefined, sentAt],
          env: { ...process.env, CONCUR_TEST_MAPPED_WAIT_MS: String(BOUND_MS) },
        }).start();
        await sender.join();
        const waited = Date.now() - (sentAt.value as number);
        assert.equal(sender.exitCode, 0);
        assert.ok(sentAt.value > 0 && waited >= BOUND_MS - 50, `the sender exited ${waited} ms after sending, before the bound`);
        go.set();
        // SIGKILL or the bound: the receiver is told plainly why it cannot have it.
        assert.match(await out.get({ timeout: 30_000 }), /^error: cannot map the shared memory of a primitive sent by process \d+/);
        await receiver.join();
      } finally {
        go.set();
        receiver.kill(); // a failure above leaves it blocked
      }
    }
    {
      // The receiver is killed before it maps: the sender, whose bound is far away, exits once it is gone.
      const [a, b] = Pipe();
      const ready = new Event();
      const go = new Event();
      const sent = new Event();
      const receiver = new Process({ target: pipeAckTasks.receiveLate, args: [b, ready, go, new SharedQueue<string>()] }).start();
      let sender: { kill(): void } | undefined;
      try {
        assert.equal(await ready.wait(30_000), true);
        const started = new Process({
          target: pipeAckTasks.sendAndReturn,
          args: [a, sent],
          env: { ...process.env, CONCUR_TEST_MAPPED_WAIT_MS: '600000' },
        }).start();
        sender = started;
        assert.equal(await sent.wait(30_000), true);
        receiver.kill();
        await receiver.join();
        await started.join(); // by the test's timeout, far short of the bound
        assert.equal(started.exitCode, 0);
      } finally {
        receiver.kill();
        sender?.kill(); // a failure above may leave it waiting
      }
    }
  });

  it('a receiver killed before it mapped what it was sent leaves nothing behind: a later crossing of the same memory is let go at once', { timeout: 60_000 }, async () => {
    const lock = new Lock();
    const [a, b] = Pipe();
    const ready = new Event();
    const r = new Process({ target: pipeAckTasks.receiveLate, args: [b, ready, new Event(), new SharedQueue<string>()] }).start();
    assert.equal(await ready.wait(30_000), true);
    a.send(lock); // never mapped: the receiver's event loop is blocked until it is killed
    r.kill();
    await r.join();
    // The same lock, its region the same, sent back by a child that returns at once: this
    // process maps it as it arrives, so the child ends without waiting out its bound (8 s).
    const [here, there] = Pipe();
    const sentAt = new Value('f64', 0);
    const s = new Process({ target: pipeAckTasks.sendBack, args: [there, lock, sentAt], env: { ...process.env, CONCUR_TEST_MAPPED_WAIT_MS: '8000' } }).start();
    const back = (await here.recv()) as Lock;
    await s.join();
    const waited = Date.now() - sentAt.value;
    assert.equal(s.exitCode, 0);
    assert.ok(waited < 6000, `the sender waited ${waited} ms after sending, as if its crossing were not mapped`);
    assert.equal(back.acquireSync({ timeout: 1000 }), true);
    assert.equal(lock.locked(), true, 'the same lock');
    back.release();
  });

  it('a form whose word to acknowledge is junk (a lying peer) breaks nothing, and later crossings are still kept', { timeout: 60_000 }, async () => {
    const { answer, stillOpen } = await sendQueueToLateChild(true);
    assert.equal(answer, '[1,2]');
    assert.equal(stillOpen, true, "the queue's region was closed before the child mapped it");
  });
});
