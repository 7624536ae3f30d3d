// Issue 11 item 1: authenticated frames have a size limit, an option of the owner
// (64 MiB by default): a call larger than it fails with a RangeError naming the limit.
// This file's process sets a small limit before it shares anything.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessPoolExecutor, SharedQueue } from '../../src/index.js';
import { configureProxies, DEFAULT_MAX_FRAME_BYTES } from '../../src/proxy/owner.js';
import { proxyTasks } from '../fixtures/proxy-tasks.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// What this file tests is the owner-served proxy: every queue here crosses as one.
_crossAsProxies(true);

const LIMIT = 1 << 20;
configureProxies({ maxFrameBytes: LIMIT });

describe('the frame limit of proxy calls', () => {
  it('is 64 MiB unless set', () => {
    assert.equal(DEFAULT_MAX_FRAME_BYTES, 64 << 20);
  });

  it('a put larger than the limit fails with a RangeError naming it; smaller ones land', { timeout: 60_000 }, async () => {
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const queue = new SharedQueue<string>({ capacityBytes: 8 << 20 });
    assert.equal(await pool.submit(proxyTasks.putLarge, queue, LIMIT / 4), 'sent');
    assert.equal(await pool.submit(proxyTasks.putLarge, queue, LIMIT - (64 << 10)), 'sent');
    const refused = await pool.submit(proxyTasks.putLarge, queue, 2 * LIMIT);
    assert.match(refused, /^RangeError: .*1048576 bytes.*maxFrameBytes/);
    assert.equal(queue.qsize(), 2);
    assert.equal(queue.getNowait().length, LIMIT / 4);
    assert.equal(queue.getNowait().length, LIMIT - (64 << 10));
  });

  it('is set before the first object is shared, or the error says so', () => {
    assert.throws(() => configureProxies({ maxFrameBytes: 2 * LIMIT }), /before the first/);
  });
});
