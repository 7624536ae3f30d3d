// The handshake carries the proxy protocol's version: two concurs that would misread
// each other's frames refuse each other there, naming both versions, and nothing is
// tried again.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticationError, Event, Manager } from '../../src/index.js';
import { greeting, PROXY_PROTOCOL } from '../../src/proxy/auth.js';
import { FramedSocket } from '../../src/proxy/frames.js';
import { brokerListening } from '../../src/proxy/owner.js';
import { toProxy } from '../../src/proxy/proxies.js';
import { reviveShared } from '../../src/sync/shared.js';
import { GREETING, RawPeer } from '../fixtures/raw-peer.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// This file tests the owner-served proxy: its primitives cross as proxies even where they could cross as memory.
_crossAsProxies(true);

const dir = mkdtempSync(join(tmpdir(), 'concur-version-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A server that greets every connection with `first` and counts them. */
async function fakeServer(name: string, first: () => Buffer): Promise<{ path: string; server: Server; connections: () => number }> {
  const path = join(dir, name);
  let n = 0;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    n++;
    sockets.push(socket);
    socket.on('error', () => {});
    new FramedSocket(socket, { maxFrameBytes: 256 }).send(first());
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, server, connections: () => n };
}

describe('the protocol version in the handshake', () => {
  it('a manager client reaching a server of another version fails naming both versions', { timeout: 30_000 }, async () => {
    const newer = await fakeServer('newer', () => greeting(randomBytes(32), PROXY_PROTOCOL + 7));
    const older = await fakeServer('older', () => randomBytes(32));
    const other = await fakeServer('other', () => Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'));
    try {
      await assert.rejects(Manager.connect({ address: newer.path, authkey: 'k' }), (err: Error) => {
        assert.ok(err instanceof AuthenticationError);
        assert.match(err.message, new RegExp(`the manager at .*newer speaks concur proxy protocol version ${PROXY_PROTOCOL + 7}; this process speaks version ${PROXY_PROTOCOL}`));
        return true;
      });
      await assert.rejects(Manager.connect({ address: older.path, authkey: 'k' }), /speaks concur proxy protocol version 1 \(a concur from before versions were exchanged\); this process speaks version 2/);
      await assert.rejects(Manager.connect({ address: other.path, authkey: 'k' }), /does not speak the concur proxy protocol; this process speaks version 2/);
    } finally {
      for (const s of [newer, older, other]) s.server.close();
    }
  });

  it("a proxy whose owner speaks another version fails its call at once, and does not connect again", { timeout: 30_000 }, async () => {
    const newer = await fakeServer('owner', () => greeting(randomBytes(32), PROXY_PROTOCOL + 1));
    try {
      const proxy = toProxy(new Event()) as unknown as { _ref: object };
      const event = reviveShared(structuredClone({ ...proxy, _ref: { ...proxy._ref, addr: newer.path, pid: process.pid } })) as unknown as Event;
      await assert.rejects(event.wait(20_000), (err: Error) => err instanceof AuthenticationError && /speaks concur proxy protocol version 3; this process speaks version 2/.test(err.message));
      assert.equal(newer.connections(), 1);
    } finally {
      newer.server.close();
    }
  });

  it('a broker refuses a client that announces another version, and still serves one of its own', { timeout: 30_000 }, async () => {
    const { addr, key } = (toProxy(new Event()) as unknown as { _ref: { addr: string; key: string } })._ref;
    const authkey = Buffer.from(key, 'hex');
    const alive = setTimeout(() => {}, 30_000); // the broker thread is unref'd: keep this process up while it starts
    await brokerListening().finally(() => clearTimeout(alive));
    const stranger = new RawPeer(addr, authkey);
    try {
      await assert.rejects(stranger.authenticate(20_000, PROXY_PROTOCOL + 1), /closed after/);
      assert.deepEqual(stranger.received.subarray(GREETING), Buffer.alloc(4), 'answered with the empty frame of a refusal, then closed');
      const own = new RawPeer(addr, authkey);
      assert.equal(await own.authenticate(), true);
      own.end();
    } finally {
      stranger.end();
    }
  });
});
