// How a broker hands a connection's frames to its calls. libuv reads up to 2 MiB from a
// ready socket in one go: a flood's 50,000 small calls, which ran at a stretch for 22 s
// at load 17 while the other connections' pings waited unread, until their clients
// took the manager for dead. A connection's calls now run in slices of the loop.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { ANSWERS_BUFFERED_MAX, readFrames } from '../../src/proxy/read-frames.js';

/** A connection's input, source and output, and what its handler was given. */
function connection(name: string, log: string[], cost = 0) {
  let deliver: ((frame: Buffer) => void) | undefined;
  const source = { paused: false, destroyed: false, pause: () => (source.paused = true), resume: () => (source.paused = false) };
  const output = Object.assign(new EventEmitter(), { writableLength: 0 });
  readFrames({ onFrame: (h) => (deliver = h) }, source, output, (bytes) => {
    for (const until = performance.now() + cost; performance.now() < until; );
    log.push(`${name}${bytes.readUInt32LE(0)}`);
  });
  const frames = (from: number, n: number): void => {
    for (let i = from; i < from + n; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(i);
      deliver!(b);
    }
  };
  return { source, output, frames };
}

/** Resolves once `check` holds, looking after every turn of the loop. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}

describe('readFrames', () => {
  it("a burst of calls on one connection does not hold up another's: the loop goes round between slices", async () => {
    const log: string[] = [];
    // 4,000 calls of 50 µs: 200 ms of work, the burst one read of a flood hands over.
    const flood = connection('f', log, 0.05);
    const other = connection('p', log);
    // The other connection's ping is read on the loop's next turn, as libuv would read its socket.
    setImmediate(() => other.frames(1, 1));
    flood.frames(0, 4000);
    assert.ok(log.length < 4000, 'the whole burst ran in the turn it was read in');
    assert.equal(flood.source.paused, true, 'a connection whose calls wait is read no further');
    await until(() => log.length === 4001);
    assert.ok(log.indexOf('p1') < log.indexOf('f3999'), `the ping was handled after the burst (at ${log.indexOf('p1')} of 4001)`);
    assert.deepEqual(
      log.filter((e) => e.startsWith('f')),
      Array.from({ length: 4000 }, (_, i) => `f${i}`),
      'calls ran out of order',
    );
    assert.equal(flood.source.paused, false, 'reading resumes once the held calls have run');
  });

  it('a peer that does not read its answers: its calls wait for them to drain, in order', async () => {
    const log: string[] = [];
    const c = connection('c', log);
    c.frames(0, 2);
    c.output.writableLength = ANSWERS_BUFFERED_MAX + 1;
    c.frames(2, 3);
    assert.deepEqual(log, ['c0', 'c1']);
    assert.equal(c.source.paused, true);
    // The loop going round is no reason to run them: answers still wait.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ['c0', 'c1']);
    c.output.writableLength = 0;
    c.output.emit('drain');
    await until(() => log.length === 5);
    assert.deepEqual(log, ['c0', 'c1', 'c2', 'c3', 'c4']);
    assert.equal(c.source.paused, false);
  });

  it('calls held when their connection closes are not run', async () => {
    const log: string[] = [];
    const c = connection('c', log, 0.05);
    c.frames(0, 4000);
    const ran = log.length;
    assert.ok(ran < 4000);
    c.source.destroyed = true;
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.equal(log.length, ran, 'calls of a closed connection ran: a gone caller could be granted a lock');
  });
});
