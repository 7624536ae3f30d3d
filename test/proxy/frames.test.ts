// Issue 11 item 1: a frame arriving in many small chunks is buffered in linear time
// (each byte copied a bounded number of times, not once per later chunk).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FramedSocket } from '../../src/proxy/frames.js';

/** Enough of a Socket for FramedSocket to read from. */
function fakeSocket(): Socket & EventEmitter {
  const s = new EventEmitter() as Socket & EventEmitter;
  Object.assign(s, { setNoDelay: () => s, destroy: () => s, destroyed: false });
  return s;
}

describe('FramedSocket buffering', () => {
  it('copies a 4 MiB frame that comes in 4 KiB chunks a bounded number of times', () => {
    const socket = fakeSocket();
    const framed = new FramedSocket(socket, { maxFrameBytes: 64 << 20 });
    const frames: Buffer[] = [];
    framed.onFrame((f) => frames.push(f));
    const body = Buffer.alloc(4 << 20, 7);
    const wire = Buffer.concat([Buffer.from([0, 0, 0x40, 0]), body]); // length 4 MiB, little-endian
    const original = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = original(list, total);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    try {
      for (let at = 0; at < wire.length; at += 4096) socket.emit('data', wire.subarray(at, at + 4096));
    } finally {
      Buffer.concat = original;
    }
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.length, body.length);
    assert.ok(copied <= 2 * wire.length, `bytes copied: ${copied} for a ${wire.length}-byte frame`);
  });

  it('an empty frame that ends a chunk (a refused handshake\'s answer) comes out empty', () => {
    const socket = fakeSocket();
    const framed = new FramedSocket(socket, { maxFrameBytes: 256 });
    const got: number[] = [];
    framed.onFrame((f) => got.push(f.length));
    socket.emit('data', Buffer.from([0, 0, 0, 0]));
    socket.emit('data', Buffer.from([1, 0, 0, 0, 9, 0, 0, 0, 0]));
    assert.deepEqual(got, [0, 1, 0]);
  });

  it('frames split at every possible point come out whole and in order', () => {
    const socket = fakeSocket();
    const framed = new FramedSocket(socket, { maxFrameBytes: 1 << 20 });
    const got: string[] = [];
    framed.onFrame((f) => got.push(f.toString()));
    const payloads = ['a', '', 'hello', 'x'.repeat(300), 'end'];
    const wire = Buffer.concat(payloads.map((p) => {
      const b = Buffer.alloc(4 + Buffer.byteLength(p));
      b.writeUInt32LE(Buffer.byteLength(p));
      b.write(p, 4);
      return b;
    }));
    for (let cut = 1; cut < wire.length; cut += 7) {
      got.length = 0;
      socket.emit('data', wire.subarray(0, cut));
      socket.emit('data', wire.subarray(cut));
      assert.deepEqual(got, payloads, `cut at ${cut}`);
    }
  });

  it('a frame announced over the limit closes the socket before its body is buffered', () => {
    const socket = fakeSocket();
    let destroyed = false;
    socket.destroy = (() => {
      destroyed = true;
      return socket;
    }) as typeof socket.destroy;
    const framed = new FramedSocket(socket, { maxFrameBytes: 256 });
    framed.onFrame(() => assert.fail('no frame'));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(257);
    socket.emit('data', head);
    assert.equal(destroyed, true);
  });

  it('a frame that cannot be written because the peer is gone calls onLost (what it carried can be given back); a frame written does not', async () => {
    const path = join(tmpdir(), `concur-frames-${process.pid}-${Date.now()}.sock`);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const accepted = once(server, 'connection') as Promise<[Socket]>;
      const client = connect(path);
      await once(client, 'connect');
      const [here] = await accepted;
      here.on('error', () => {}); // EPIPE, as the broker's sockets ignore it
      const framed = new FramedSocket(here, { maxFrameBytes: 1 << 20 });
      let lost = 0;
      const arrived = once(client, 'data') as Promise<[Buffer]>;
      framed.send(Buffer.from('kept'), () => lost++);
      assert.equal((await arrived)[0].subarray(4).toString(), 'kept');
      client.destroy();
      await once(client, 'close');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => framed.send(Buffer.from('item'), resolve)),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('onLost not called within 20 s')), 20_000))),
      ]);
      clearTimeout(timer);
      assert.equal(lost, 0, 'the frame that was written is not reported lost');
    } finally {
      server.close();
    }
  });
});
