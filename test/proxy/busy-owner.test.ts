// An owner too busy to finish a handshake in time closes it (its 5 s handshake timeout);
// the caller's helper tries again while the owner lives, so its call, which had not left
// yet, is still made. The owner here is a server written in the test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Event } from '../../src/index.js';
import { authenticateClient, greeting } from '../../src/proxy/auth.js';
import { FramedSocket } from '../../src/proxy/frames.js';
import { callIdOf, decodeCall, encodeReply } from '../../src/proxy/protocol.js';
import { toProxy } from '../../src/proxy/proxies.js';
import { reviveShared } from '../../src/sync/shared.js';
import { _crossAsProxies } from '../../src/sync/shm-crossing.js';

// This file tests the owner-served proxy: its primitives cross as proxies even where they could cross as memory.
_crossAsProxies(true);

describe('an owner that closes a handshake', () => {
  it('the caller connects again and its call goes through', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concur-busy-'));
    const addr = join(dir, 's');
    const key = randomBytes(32);
    let connections = 0;
    const calls: string[] = [];
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      const conn = new FramedSocket(socket, { maxFrameBytes: 256 });
      if (++connections === 1) {
        // The challenge goes out, then the "timeout": closed before the answer.
        conn.send(greeting());
        setTimeout(() => socket.destroy(), 50);
        return;
      }
      authenticateClient(conn, key).then(() => {
        conn.maxFrameBytes = 1 << 20;
        conn.onFrame((frame) => {
          const [, op] = decodeCall(frame);
          calls.push(op);
          conn.send(encodeReply(callIdOf(frame), 1, true));
        });
      }, () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(addr, resolve));
    try {
      const proxy = toProxy(new Event()) as unknown as { _ref: object };
      const event = reviveShared(structuredClone({ ...proxy, _ref: { ...proxy._ref, addr, key: key.toString('hex'), pid: process.pid } })) as unknown as Event;
      assert.equal(await event.wait(30_000), true);
      assert.equal(connections, 2, 'it connected again after the first handshake was closed');
      assert.deepEqual(calls, ['wait']);
    } finally {
      server.close();
      for (const s of sockets) s.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
