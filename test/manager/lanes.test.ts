// Lanes: a main thread's synchronous calls to a manager on the same machine go through
// a pair of FIFOs instead of its helper thread. They must keep every property of the
// helper's way: the same caller (locks, references), EOFError at once when the server
// dies, nothing lost or held when a client dies mid-call, and many clients at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Manager, Pipe, Process, Thread, Value } from '../../src/index.js';
import { _lanesOpen, callRemoteSync } from '../../src/proxy/client.js';
import { LANE_OBJECT, LANE_OP } from '../../src/proxy/protocol.js';
import { laneTasks } from '../fixtures/lane-tasks.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// A Value of this process is one of the owners a child opens a lane to: it crosses as a proxy here.
_crossAsProxies(true);

const lanesHere = process.platform === 'linux' && process.env.CONCUR_PROXY_LANES !== '0';

describe('manager lanes', { skip: !lanesHere && 'lanes are for Linux' }, () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
  });
  after(() => m.shutdown());

  it("a main thread's calls take a lane after a few; a worker thread's stay with its helper", { timeout: 60_000 }, async () => {
    const d = m.dict<number>({ a: 1 });
    for (let i = 0; i < 20; i++) assert.equal(d.get('a'), 1);
    assert.equal(_lanesOpen(), 1);
    d.set('b', 2);
    assert.deepEqual(d.copy(), new Map([['a', 1], ['b', 2]]));
    const [here, there] = Pipe();
    const t = new Thread({ target: laneTasks.lanesAfterCalls, args: [d, there] }).start();
    assert.equal(await here.recv(), 0);
    await t.join();
    const [here2, there2] = Pipe();
    const p = new Process({ target: laneTasks.lanesAfterCalls, args: [d, there2] }).start();
    assert.equal(await here2.recv(), 1);
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  it("calls and answers past the FIFO's 64 KiB, and values of every kind, go through the lane intact", () => {
    const d = m.dict<unknown>();
    for (let i = 0; i < 20; i++) d.get('warm');
    assert.equal(_lanesOpen(), 1);
    const big = 'x'.repeat(3 << 20);
    d.set('big', big);
    assert.equal(d.get('big'), big);
    const values: unknown[] = [undefined, null, true, false, 0, -0, 1.5, NaN, 2 ** 31, -(2 ** 31), 'é€😀', '\uD800', 10n, [1, 'a'], { a: { b: [null] } }, new Map([[1, 2]]), new Set(['s']), new Date(0), new Uint8Array([1, 2])];
    values.forEach((v, i) => d.set(`v${i}`, v));
    values.forEach((v, i) => assert.deepEqual(d.get(`v${i}`), v, `value ${i}`));
    assert.ok(Object.is(d.get('v5'), -0));
    assert.equal(_lanesOpen(), 1);
  });

  it('a write still on its way through the helper lands before a read that follows it', { timeout: 60_000 }, async () => {
    const v = new Value('i32', 0);
    const [here, there] = Pipe();
    const p = new Process({ target: laneTasks.writeThenRead, args: [m.dict(), v, 2000, there] }).start();
    // Two lanes: to the manager, and to this process (the Value's owner).
    assert.deepEqual(await here.recv(), { missed: 0, lanes: 2 });
    await p.join();
    assert.equal(v.value, 2000);
  });

  it('the owner opens only FIFOs of its user, and the connection serves on after a refusal', async () => {
    const d = m.dict<number>({ a: 1 });
    const ref = (d as unknown as { _ref: Parameters<typeof callRemoteSync>[0] })._ref;
    const dir = mkdtempSync(join(tmpdir(), 'lane-paths-'));
    try {
      const file = join(dir, 'file');
      writeFileSync(file, 'not a fifo');
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const link = join(dir, 'link');
      symlinkSync(fifo, link);
      const open = (a: unknown, b: unknown): unknown => callRemoteSync({ ...ref, id: LANE_OBJECT }, LANE_OP, [a, b]);
      assert.throws(() => open(file, fifo), /is not a FIFO of this user/);
      assert.throws(() => open(link, fifo), /is not a FIFO of this user/);
      assert.throws(() => open(join(dir, 'nothing'), fifo), /ENOENT/);
      assert.throws(() => open('relative', fifo), /absolute path/);
      assert.throws(() => open(fifo, fifo), /two FIFOs, not one/);
      // The reply end opens only while someone reads it (here nobody does): refused too.
      const other = join(dir, 'other');
      execFileSync('mkfifo', [other]);
      assert.throws(() => open(fifo, other), /ENXIO/);
      assert.equal(d.get('a'), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
