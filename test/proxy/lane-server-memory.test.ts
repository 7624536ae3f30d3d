// The owner's side of a lane with shared memory, driven in this process: the test plays
// the caller on the words and FIFOs directly, so each interleaving is made on purpose.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs, { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocShared, native, viewRef } from '../../src/sync/shm.js';
import { CLIENT_IDLE, LANE_BYTES, laneMemory, REP_SEQ, REQ_LEN, REQ_SEQ, RING, SERVER_AWAKE, type LaneMemory } from '../../src/proxy/lane-memory.js';
import { openLaneEnds, type LaneEnds } from '../../src/proxy/lane-server.js';

const here = process.platform === 'linux' && native !== undefined;

/** A lane whose caller's side is this test: its FIFO ends and its memory. */
function openTestLane(): { ends: LaneEnds; request: number; reply: number; m: LaneMemory } {
  const dir = mkdtempSync(join(tmpdir(), 'concur-lane-test-'));
  try {
    const requestPath = join(dir, 'request');
    const replyPath = join(dir, 'reply');
    execFileSync('mkfifo', ['-m', '600', requestPath, replyPath]);
    const heldReader = openSync(requestPath, constants.O_RDONLY | constants.O_NONBLOCK);
    const request = openSync(requestPath, constants.O_WRONLY);
    const heldWriter = openSync(replyPath, constants.O_RDWR);
    const reply = openSync(replyPath, constants.O_RDONLY | constants.O_NONBLOCK);
    const { buffer, byteOffset } = allocShared(LANE_BYTES);
    const bytes = new Uint8Array(buffer, byteOffset, LANE_BYTES);
    const ends = openLaneEnds(requestPath, replyPath, 1 << 20, viewRef(bytes));
    closeSync(heldReader);
    closeSync(heldWriter);
    assert.ok(ends.inMemory);
    return { ends, request, reply, m: laneMemory(bytes) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A framed answer of `n` body bytes. */
function answer(n: number): Buffer {
  const framed = Buffer.alloc(4 + n, 7);
  framed.writeUInt32LE(n, 0);
  return framed;
}

describe('the owner side of a lane with memory', { skip: !here && 'needs Linux and the native part' }, () => {
  it('a caller gone while it slept: the ring fails, and the answer is not written to a closed descriptor', async (t) => {
    const { ends, request, reply, m } = openTestLane();
    // The caller said it sleeps, then died: nobody reads the reply FIFO any more.
    Atomics.store(m.words, CLIENT_IDLE, 1);
    closeSync(reply);
    const writes: number[] = [];
    let failed: number | undefined;
    const real = fs.writeSync;
    t.mock.method(fs, 'writeSync', (fd: number, ...rest: unknown[]) => {
      writes.push(fd);
      try {
        return (real as (...a: unknown[]) => number)(fd, ...rest);
      } catch (err) {
        failed ??= fd;
        throw err;
      }
    });
    syncBuiltinESMExports();
    try {
      let lost = 0;
      await new Promise<void>((resolve) => ends.send(answer(8), () => (lost++, resolve())));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(lost, 1);
      assert.notEqual(failed, undefined, 'the ring met EPIPE');
      // The descriptor was closed with the lane: another thread may have it by now.
      assert.deepEqual(writes.filter((fd) => fd === failed), [failed], 'a write after the lane closed');
    } finally {
      t.mock.restoreAll();
      syncBuiltinESMExports();
      closeSync(request);
    }
  });

  it('a call found in the last look before sleeping keeps the owner polling', async (t) => {
    const { ends, request, reply, m } = openTestLane();
    const w = m.words;
    let calls = 0;
    let served: () => void = () => {};
    ends.onFrame(() => {
      calls++;
      ends.send(answer(8));
      served();
    });
    const publish = (): void => {
      m.request.fill(1, 0, 8);
      w[REQ_LEN] = 8;
      Atomics.add(w, REQ_SEQ, 1);
    };
    try {
      // The first call rings (the owner sleeps); its answer starts the poll.
      const first = new Promise<void>((resolve) => (served = resolve));
      publish();
      assert.equal(Atomics.load(w, SERVER_AWAKE), 0);
      writeSync(request, RING);
      await first;
      assert.equal(Atomics.load(w, REP_SEQ), 1);
      // The poll's clock: the first look at it while polling, a second call comes (no
      // ring: the owner is awake) and the poll's time is up. Then watch for polling.
      const real = performance.now.bind(performance);
      let phase: 'armed' | 'after' | 'done' = 'armed';
      let polledAfter = false;
      t.mock.method(performance, 'now', () => {
        const now = real();
        if (phase === 'armed' && Atomics.load(w, SERVER_AWAKE) === 1) {
          phase = 'after';
          publish();
          return now + 1000;
        }
        if (phase === 'after' && calls === 2 && Atomics.load(w, SERVER_AWAKE) === 1) polledAfter = true;
        return now;
      });
      const second = new Promise<void>((resolve) => (served = resolve));
      await second;
      assert.equal(Atomics.load(w, REP_SEQ), 2);
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      phase = 'done';
      assert.ok(polledAfter, 'the owner went to sleep right after finding a call');
    } finally {
      t.mock.restoreAll();
      closeSync(request);
      closeSync(reply);
    }
  });

  it('a caller that never reads its rings cannot make the owner queue them without end', async () => {
    const { ends, request, reply, m } = openTestLane();
    const w = m.words;
    let served: () => void = () => {};
    ends.onFrame(() => {
      ends.send(answer(8));
      served();
    });
    try {
      // It says it sleeps before every call, and never reads: each answer rings.
      // A pipe holds 16,384 rings; past it they wait in the owner's memory.
      const CALLS = 40_000;
      const closed = new Promise((resolve) => ends.replies.once('close', resolve));
      let i = 0;
      for (; i < CALLS && !ends.replies.destroyed; i++) {
        const done = new Promise<void>((resolve) => (served = resolve));
        Atomics.store(w, CLIENT_IDLE, 1);
        m.request.fill(1, 0, 8);
        w[REQ_LEN] = 8;
        Atomics.add(w, REQ_SEQ, 1);
        if (Atomics.load(w, SERVER_AWAKE) === 0) writeSync(request, RING);
        await Promise.race([done, closed]);
      }
      assert.ok(ends.replies.destroyed, `the owner queued ${ends.replies.writableLength} bytes of rings after ${i} calls`);
    } finally {
      closeSync(request);
      closeSync(reply);
    }
  });

  it('a caller that lies about its call\'s length has its lane closed, and nothing is delivered', { timeout: 20_000 }, async () => {
    for (const lie of [-1, 0, 3, 16 * 1024 + 1, 2 ** 31 - 1]) {
      const { ends, request, reply, m } = openTestLane();
      const got: Buffer[] = [];
      ends.onFrame((f) => got.push(f));
      const closed = new Promise<void>((resolve) => ends.requests.once('close', () => resolve()));
      m.words[REQ_LEN] = lie;
      Atomics.store(m.words, REQ_SEQ, 1);
      writeSync(request, RING);
      await closed;
      assert.deepEqual(got, [], `a length of ${lie} was taken for a call`);
      closeSync(request);
      closeSync(reply);
    }
  });
});
