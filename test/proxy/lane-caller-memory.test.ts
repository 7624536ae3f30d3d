// The caller's side of a lane with shared memory, driven in this process: the test plays
// the owner on the words and FIFOs directly. An owner that writes an impossible answer
// (the counterpart of the caller that lies in lane-server-memory.test.ts) has the lane
// closed: the call fails with LaneClosed (EOFError for the proxy call) and nothing that
// was never an answer is taken for one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocShared, native } from '../../src/sync/shm.js';
import { AREA_BYTES, BY_FIFO, LANE_BYTES, laneMemory, REP_LEN, REP_SEQ, REQ_SEQ, RING, type LaneMemory } from '../../src/proxy/lane-memory.js';
import { Lane, LaneClosed } from '../../src/proxy/lane.js';
import { CallWatch } from '../../src/proxy/lane-watch.js';
import { WINDOW_SLOTS } from '../../src/proxy/protocol.js';

const here = process.platform === 'linux' && native !== undefined;

/** A lane whose owner's side is this test: the caller's Lane, the owner's FIFO ends and the memory. */
function openTestLane(): { lane: Lane; requests: number; replies: number; m: LaneMemory; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'concur-lane-test-'));
  try {
    const requestPath = join(dir, 'request');
    const replyPath = join(dir, 'reply');
    execFileSync('mkfifo', ['-m', '600', requestPath, replyPath]);
    // The owner's ends first (neither open waits), then the caller's, as makeLane opens them.
    const requests = openSync(requestPath, constants.O_RDONLY | constants.O_NONBLOCK);
    const replies = openSync(replyPath, constants.O_RDWR);
    const request = openSync(requestPath, constants.O_WRONLY);
    const reply = openSync(replyPath, constants.O_RDONLY);
    const { buffer, byteOffset } = allocShared(LANE_BYTES);
    const m = laneMemory(new Uint8Array(buffer, byteOffset, LANE_BYTES));
    const lane = new Lane(request, reply, new CallWatch(new Int32Array(new SharedArrayBuffer(4 * WINDOW_SLOTS))), m);
    assert.ok(lane.inMemory);
    return {
      lane,
      requests,
      replies,
      m,
      close: () => {
        lane.close();
        closeSync(requests);
        closeSync(replies);
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Makes the lane's first call; returns what it threw, or fails if it returned an answer. */
function firstCallFails(lane: Lane): unknown {
  try {
    const answer = lane.call(1, 1, 'value', [], 1 << 20, process.pid);
    assert.fail(`an answer of ${answer.length} bytes was taken: ${answer.toString('hex').slice(0, 32)}…`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  }
}

describe('the caller side of a lane with memory', { skip: !here && 'needs Linux and the native part' }, () => {
  it('an owner that lies about its answer\'s length has the lane closed, and nothing is taken for an answer', () => {
    for (const lie of [-2, 0, 3, AREA_BYTES + 1, 2 ** 31 - 1]) {
      const { lane, m, close } = openTestLane();
      try {
        // The answer is there before the call looks (an owner may be that fast): the call
        // finds it without sleeping, so this thread needs no owner running beside it.
        m.reply.fill(7);
        m.words[REP_LEN] = lie;
        Atomics.store(m.words, REP_SEQ, 1);
        const err = firstCallFails(lane);
        assert.ok(err instanceof LaneClosed, `a length of ${lie}: ${String(err)}`);
        assert.match(err.message, new RegExp(`answer of ${lie} bytes`));
        assert.equal(Atomics.load(m.words, REQ_SEQ), 1, 'the call was made');
        assert.equal(lane.closed, true, `a length of ${lie} left the lane open`);
        assert.throws(() => lane.call(2, 1, 'value', [], 1 << 20, process.pid), LaneClosed);
      } finally {
        close();
      }
    }
  });

  it("an owner whose FIFO answer claims more than its own frame limit has the lane closed at the header, before anything is allocated or awaited", () => {
    for (const lie of [(1 << 20) + 1, 2 ** 30, 2 ** 32 - 1]) {
      const { lane, m, replies, requests } = openTestLane();
      try {
        const header = Buffer.alloc(4);
        header.writeUInt32LE(lie, 0);
        writeSync(replies, header);
        // Nothing follows: a caller that believed the header would wait for the owner's
        // next bytes for ever; here the owner's end closes, so it would end, but with the
        // wrong reason.
        closeSync(replies);
        m.words[REP_LEN] = BY_FIFO;
        Atomics.store(m.words, REP_SEQ, 1);
        const err = firstCallFails(lane);
        assert.ok(err instanceof LaneClosed, `a length of ${lie}: ${String(err)}`);
        assert.match(err.message, new RegExp(`answer of ${lie} bytes.*frame limit of ${1 << 20}`));
        assert.equal(lane.closed, true);
      } finally {
        lane.close();
        closeSync(requests);
      }
    }
  });

  it('an owner that says its answer comes by FIFO and sends a ring instead has the lane closed', () => {
    const { lane, m, replies, close } = openTestLane();
    try {
      writeSync(replies, RING);
      m.words[REP_LEN] = BY_FIFO;
      Atomics.store(m.words, REP_SEQ, 1);
      const err = firstCallFails(lane);
      assert.ok(err instanceof LaneClosed, String(err));
      assert.equal(lane.closed, true);
    } finally {
      close();
    }
  });
});
