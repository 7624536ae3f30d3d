// A TCP peer is taken for dead after SILENCE_LIMIT_MS without a frame from it, but not
// for time this side's own loop was held up (its pings then wait unread in the socket):
// a client flooding a manager once had it close its other clients' connections at load 30.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SilenceWatch, SILENCE_LIMIT_MS } from '../../src/proxy/protocol.js';

const EVERY = 1000;

it('a peer silent past the limit, checked on time, is silent', () => {
  let t = 0;
  const w = new SilenceWatch(EVERY, () => t);
  let silentAt: number | undefined;
  for (let i = 1; silentAt === undefined && i < 1000; i++) {
    t = i * EVERY;
    if (w.silent()) silentAt = t;
  }
  assert.equal(silentAt, SILENCE_LIMIT_MS + EVERY);
});

it('a peer heard from is not silent', () => {
  let t = 0;
  const w = new SilenceWatch(EVERY, () => t);
  for (let i = 1; i < 100; i++) {
    t = i * EVERY;
    w.heard();
    assert.equal(w.silent(), false);
  }
});

it('time the loop was held up (a check that comes late) is not the peer\'s silence', () => {
  let t = 0;
  const w = new SilenceWatch(EVERY, () => t);
  t = EVERY;
  w.heard();
  assert.equal(w.silent(), false);
  // The loop was blocked for twice the limit: the first check after it does not close.
  t += 2 * SILENCE_LIMIT_MS;
  assert.equal(w.silent(), false, 'a held-up loop took its peer for dead');
  // The peer's pings were waiting: read now.
  w.heard();
  const from = t;
  // And a peer silent from there on is still caught, after the limit of time on time.
  let silentAt: number | undefined;
  for (let i = 1; silentAt === undefined && i < 1000; i++) {
    t = from + i * EVERY;
    if (w.silent()) silentAt = t - from;
  }
  assert.equal(silentAt, SILENCE_LIMIT_MS + EVERY);
});
