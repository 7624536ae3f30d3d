// A manager's server against clients that do not play by the rules, over TCP and a
// Unix socket: junk before authenticating, a wrong key, a thousand connections at
// once, and, once authenticated, a million fuzzed frames. The server must neither crash
// nor grow without bound, and a legitimate client must still be served afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticationError, Manager, type DictProxy } from '../../src/index.js';
import { encodeCall, PING_CALL_ID, tcpAddr } from '../../src/proxy/protocol.js';
import { GREETING, RawPeer } from '../fixtures/raw-peer.js';

const authkey = 'hostile tests';
const dir = mkdtempSync(join(tmpdir(), 'concur-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The resident memory of process `pid`, in bytes. */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return Number(kb) * 1024;
}

/** CPU seconds process `pid` has used. */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A frame: 4-byte little-endian length, then `payload`. */
function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(payload.length);
  return Buffer.concat([head, payload]);
}

/** Writes `data`, waiting for the socket to drain if it must. */
async function write(peer: RawPeer, data: Buffer): Promise<void> {
  if (!peer.socket.write(data)) await Promise.race([new Promise((r) => peer.socket.once('drain', r)), peer.closed]);
}

/**
 * Watches a peer's incoming frames (discarding them) for the answer to a ping: the
 * broker answers frames in order, so once it comes, every frame sent before it was read.
 */
function pingAnswered(peer: RawPeer): () => Promise<void> {
  peer.discard();
  let pending: Buffer = Buffer.alloc(0);
  let pinged: (() => void) | undefined;
  peer.socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= 4) {
      const n = pending.readUInt32LE(at);
      if (pending.length - at - 4 < n) break;
      if (n === 4 && pending.readUInt32LE(at + 4) === PING_CALL_ID) pinged?.();
      at += 4 + n;
    }
    pending = pending.subarray(at);
  });
  return () =>
    new Promise<void>((resolve, reject) => {
      pinged = resolve;
      void peer.closed.then(() => reject(new Error('the server closed the fuzzing connection')));
      const ping = Buffer.alloc(4);
      ping.writeUInt32LE(PING_CALL_ID);
      peer.socket.write(frame(ping));
    });
}

const random = (n: number): number => Math.floor(Math.random() * n);

/**
 * `count` fuzzed frames in batches of about a megabyte: random bytes, garbage after a
 * v8 header, calls to objects and methods that do not exist, and calls with the wrong
 * arguments. Most have call id 0 (no answer), as a flood would; the rest are answered.
 */
function* fuzz(count: number, ids: { root: number; dict: number; list: number; value: number }): Generator<Buffer> {
  const junk = [undefined, null, 0, -1, 2 ** 53, 'x'.repeat(40), [], [[]], {}, { a: 1 }, new Map([[1, 2]]), new Uint8Array(8), true, 1.5];
  const arg = (): unknown => junk[random(junk.length)];
  const args = (): unknown => (random(8) === 0 ? arg() : Array.from({ length: random(6) }, arg));
  const calls: Buffer[] = [];
  const methods: Record<string, string[]> = {
    root: ['hello', 'create', 'register', 'incref', 'decref', 'objectCount', 'start', 'nope', 'constructor', '__proto__', 'toString', 'hasOwnProperty'],
    dict: ['get', 'set', 'has', 'delete', 'pop', 'keys', 'size', 'nope', 'constructor', '__proto__'],
    list: ['get', 'set', 'at', 'indexOf', 'includes', 'slice', 'pop', 'remove', 'nope', 'constructor'],
    value: ['get', 'nope', 'valueOf', 'constructor'],
  };
  for (let i = 0; i < 4000; i++) {
    const which = random(6);
    if (which === 0) calls.push(encodeCall(0, random(2 ** 31), 'nope', [])); // an object that does not exist
    else if (which === 1) calls.push(encodeCall(0, 2 ** 30 + random(1e6), 'get', [])); // a local id never made
    else {
      const kind = (['root', 'dict', 'list', 'value'] as const)[random(4)]!;
      const ms = methods[kind]!;
      // 'create' with a real type would make objects: its fuzzed type is junk.
      calls.push(encodeCall(0, ids[kind], ms[random(ms.length)]!, args() as unknown[]));
    }
  }
  const noise = randomBytes(1 << 20);
  let sent = 0;
  while (sent < count) {
    const parts: Buffer[] = [];
    let bytes = 0;
    while (bytes < 1 << 20 && sent < count) {
      let body: Buffer;
      const r = random(10);
      if (r < 3) {
        const at = random(noise.length - 64);
        body = Buffer.from(noise.subarray(at, at + 4 + random(60))); // random bytes, random length
      } else if (r < 5) {
        const at = random(noise.length - 64);
        body = Buffer.concat([Buffer.alloc(4), Buffer.from([0xff, 0x0f]), noise.subarray(at, at + random(40))]); // a v8 header, then garbage
      } else {
        body = Buffer.from(calls[random(calls.length)]!);
      }
      // Most go unanswered, as a flood would be; one in ten asks for an answer.
      body.writeUInt32LE(random(10) === 0 ? 1 + random(1e6) : 0, 0);
      const head = Buffer.alloc(4);
      head.writeUInt32LE(body.length);
      parts.push(head, body);
      bytes += 4 + body.length;
      sent++;
    }
    yield Buffer.concat(parts, bytes);
  }
}

for (const transport of ['unix', 'tcp'] as const) {
  describe(`a manager over ${transport === 'tcp' ? 'TCP' : 'a Unix socket'} and hostile clients`, () => {
    let m: Manager;
    let addr: string;
    let d: DictProxy<number>;
    const key = Buffer.from(authkey);
    const peers: RawPeer[] = [];
    const peer = (): RawPeer => {
      const p = new RawPeer(addr, key);
      peers.push(p);
      return p;
    };
    before(async () => {
      m = await Manager.start({ address: transport === 'tcp' ? { host: '127.0.0.1', port: 0 } : join(dir, 'm.sock'), authkey });
      addr = typeof m.address === 'string' ? m.address : tcpAddr(m.address.host, m.address.port);
      d = m.dict<number>({ served: 1 });
    });
    after(async () => {
      for (const p of peers) p.end();
      await m.shutdown();
    });

    it('random, truncated and oversized frames before authenticating are closed; others are served', { timeout: 60_000 }, async () => {
      const junk = peer();
      await junk.bytes(GREETING);
      junk.socket.write(randomBytes(4096)); // a random length prefix, then noise
      const truncated = peer();
      await truncated.bytes(GREETING);
      truncated.socket.write(Buffer.concat([Buffer.from([100, 0, 0, 0]), randomBytes(50)]));
      truncated.socket.end(); // and no more
      const oversized = peer();
      await oversized.bytes(GREETING);
      oversized.socket.write(Buffer.from([0xff, 0xff, 0xff, 0x7f]));
      const wrongSize = peer();
      await wrongSize.bytes(GREETING);
      wrongSize.frame(randomBytes(64)); // a reply of the wrong length: refused
      for (const p of [junk, truncated, oversized, wrongSize]) assert.ok(await p.closesWithin(10_000), 'closed');
      assert.equal(oversized.received.length, GREETING, 'nothing answered to an oversized header');
      assert.deepEqual(wrongSize.received.subarray(GREETING), Buffer.alloc(4), 'a refusal');
      const other = await Manager.connect({ address: m.address, authkey });
      assert.equal(other.dict({ a: 1 }).get('a'), 1);
      assert.equal(d.get('served'), 1);
    });

    it('a wrong authkey is an AuthenticationError for a real client', { timeout: 30_000 }, async () => {
      await assert.rejects(Manager.connect({ address: m.address, authkey: 'not the key' }), (err: Error) => err instanceof AuthenticationError && /refused the authkey/.test(err.message));
    });

    it('1,000 connections at once are all authenticated; none is refused', { timeout: 120_000 }, async () => {
      const many = Array.from({ length: 1000 }, peer);
      const results = await Promise.allSettled(many.map((p) => p.authenticate(60_000)));
      const failed = results.filter((r) => r.status === 'rejected' || r.value !== true);
      for (const p of many) p.end();
      assert.equal(failed.length, 0, `${failed.length} failed; first: ${String((failed[0] as PromiseRejectedResult | undefined)?.reason)}`);
    });

    it('a client that calls without reading the answers cannot make the server buffer them without bound', { timeout: 120_000 }, async () => {
      const big = m.dict<string>({ big: 'x'.repeat(64 << 10) });
      const id = (big as unknown as { _ref: { id: number } })._ref.id;
      const deaf = peer();
      assert.equal(await deaf.authenticate(), true);
      deaf.socket.pause(); // reads nothing more
      const before = rssOf(m.pid);
      // 2,000 answers of 64 KiB: 128 MiB, if the server kept them all for this peer.
      const call = encodeCall(7, id, 'get', ['big']);
      const calls = Buffer.concat(Array.from({ length: 2000 }, () => frame(call)));
      deaf.socket.write(calls);
      // The server has read what it will read once a legitimate client is answered after it.
      const other = await Manager.connect({ address: m.address, authkey });
      assert.equal(other.list([1]).length, 1);
      await new Promise((r) => setTimeout(r, 500)); // time for any further reading to show
      const grown = rssOf(m.pid) - before;
      console.log(`# ${transport}: a deaf client's 2,000 calls for 64 KiB each grew the server by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      assert.ok(grown < 48 * 2 ** 20, `the server grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      deaf.end();
    });

    // A million over TCP, where anyone may knock; fewer over the Unix socket, whose path
    // goes the same way once read (CONCUR_FUZZ_FRAMES sets both).
    const count = Number(process.env.CONCUR_FUZZ_FRAMES ?? (transport === 'tcp' ? 1_000_000 : 250_000));
    it(`${count.toLocaleString('en')} fuzzed frames once authenticated: no crash, bounded memory, a legitimate client still served`, { timeout: 180_000 }, async () => {
      const fuzzer = peer();
      assert.equal(await fuzzer.authenticate(), true);
      const flushed = pingAnswered(fuzzer);
      const ids = { root: 1, dict: (d as unknown as { _ref: { id: number } })._ref.id, list: (m.list([1, 2]) as unknown as { _ref: { id: number } })._ref.id, value: (m.value(1) as unknown as { _ref: { id: number } })._ref.id };
      // Warm up (the same frames), so the baseline is a server that has run this code.
      for (const batch of fuzz(50_000, ids)) await write(fuzzer, batch);
      await flushed();
      const before = rssOf(m.pid);
      const cpu = cpuOf(m.pid);
      const started = performance.now();
      let bytes = 0;
      for (const batch of fuzz(count, ids)) {
        bytes += batch.length;
        await write(fuzzer, batch);
      }
      await flushed();
      const took = performance.now() - started;
      const grown = rssOf(m.pid) - before;
      console.log(`# ${transport}: ${count} frames (${(bytes / 2 ** 20).toFixed(0)} MiB) in ${Math.round(took)} ms (server CPU ${(cpuOf(m.pid) - cpu).toFixed(1)} s); ${(fuzzer.receivedBytes / 2 ** 20).toFixed(1)} MiB answered; server RSS ${(before / 2 ** 20).toFixed(0)} MiB, grew ${(grown / 2 ** 20).toFixed(1)} MiB`);
      assert.ok(grown < 64 * 2 ** 20, `the server grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      assert.equal(d.get('served'), 1);
      const other = await Manager.connect({ address: m.address, authkey });
      assert.equal(other.list([3]).pop(), 3);
    });
  });
}
