// Over TCP nobody can tell by a pid whether the other side lives: clients ping, and a
// connection silent past the limit is closed (its caller's references and locks go).
// The limits are shortened here through the environment, which the server inherits.
// The silence limit stays well above the heartbeat: a client process starved of CPU for
// a second or two on a loaded machine sends no pings meanwhile, and must not count as
// silent for it (nor may the silent peer's clock, started on its last frame, have run a
// second before this side reads it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';

process.env.CONCUR_PROXY_HEARTBEAT_MS = '200';
process.env.CONCUR_PROXY_SILENCE_MS = '5000';
const { Manager, sleep } = await import('../../src/index.js');
const { authenticateServer } = await import('../../src/proxy/auth.js');
const { FramedSocket } = await import('../../src/proxy/frames.js');
const { HANDSHAKE_MAX_BYTES } = await import('../../src/proxy/protocol.js');

describe('a manager on TCP: heartbeat', () => {
  it('closes an authenticated peer that stays silent; an idle client that pings keeps working; proxies name the address a client used', { timeout: 60_000 }, async () => {
    const authkey = 'heartbeat key';
    await using m = await Manager.start({ address: { host: '0.0.0.0', port: 0 }, authkey });
    const { port } = m.address as { host: string; port: number };

    // Listening on every interface, the server names itself 0.0.0.0 in its proxies; a
    // client that reached it by another address gets proxies naming that address.
    const client = await Manager.connect({ address: { host: '127.0.0.1', port }, authkey });
    const theirs = client.list([1]);
    assert.equal((theirs as unknown as { _ref: { addr: string } })._ref.addr, `tcp://127.0.0.1:${port}`);
    assert.equal(theirs.length, 1);

    const d = m.dict<number>({ a: 1 });
    const lock = m.lock();
    lock.acquireSync();

    const silent = connect({ host: '127.0.0.1', port });
    await once(silent, 'connect');
    await authenticateServer(new FramedSocket(silent, { maxFrameBytes: HANDSHAKE_MAX_BYTES }), Buffer.from(authkey));
    const closed = once(silent, 'close');
    const since = performance.now();
    await closed;
    const after = performance.now() - since;
    assert.ok(after >= 1_000, `closed after ${Math.round(after)} ms of silence, before the limit`);

    // This process was idle all along: its pings kept its connection, and its lock.
    await sleep(500);
    assert.equal(d.get('a'), 1);
    assert.equal(lock.locked(), true);
    lock.release();
  });
});
