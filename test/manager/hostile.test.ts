// A manager's server against clients that do not play by the rules, over TCP and a
// Unix socket: junk before authenticating, a wrong key, a thousand connections at
// once, a client that never reads its answers (hostile-fuzz.test.ts sends fuzzed frames).
// The server must neither crash nor grow without bound, and legitimate clients are
// still served.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticationError, Manager } from '../../src/index.js';
import { encodeCall } from '../../src/proxy/protocol.js';
import { frame, rssOf } from '../fixtures/fuzz-frames.js';
import { GREETING } from '../fixtures/raw-peer.js';
import { hostileManager } from '../fixtures/hostile-manager.js';

const authkey = 'hostile tests';
const dir = mkdtempSync(join(tmpdir(), 'concur-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const transport of ['unix', 'tcp'] as const) {
  describe(`a manager over ${transport === 'tcp' ? 'TCP' : 'a Unix socket'} and hostile clients`, () => {
    const s = hostileManager(transport, dir, authkey);
    const peer = s.peer;

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
      const other = await Manager.connect({ address: s.m.address, authkey });
      assert.equal(other.dict({ a: 1 }).get('a'), 1);
      assert.equal(s.d.get('served'), 1);
    });

    it('a wrong authkey is an AuthenticationError for a real client', { timeout: 30_000 }, async () => {
      await assert.rejects(Manager.connect({ address: s.m.address, authkey: 'not the key' }), (err: Error) => err instanceof AuthenticationError && /refused the authkey/.test(err.message));
    });

    it('1,000 connections at once are all authenticated; none is refused', { timeout: 120_000 }, async () => {
      const many = Array.from({ length: 1000 }, peer);
      const results = await Promise.allSettled(many.map((p) => p.authenticate(60_000)));
      const failed = results.filter((r) => r.status === 'rejected' || r.value !== true);
      for (const p of many) p.end();
      assert.equal(failed.length, 0, `${failed.length} failed; first: ${String((failed[0] as PromiseRejectedResult | undefined)?.reason)}`);
    });

    it('a client that calls without reading the answers cannot make the server buffer them without bound', { timeout: 120_000 }, async () => {
      const big = s.m.dict<string>({ big: 'x'.repeat(64 << 10) });
      const id = (big as unknown as { _ref: { id: number } })._ref.id;
      const deaf = peer();
      assert.equal(await deaf.authenticate(), true);
      deaf.socket.pause(); // reads nothing more
      const before = rssOf(s.m.pid);
      // 2,000 answers of 64 KiB: 128 MiB, if the server kept them all for this peer.
      const call = encodeCall(7, id, 'get', ['big']);
      const calls = Buffer.concat(Array.from({ length: 2000 }, () => frame(call)));
      deaf.socket.write(calls);
      // The server has read what it will read once a legitimate client is answered after it.
      const other = await Manager.connect({ address: s.m.address, authkey });
      assert.equal(other.list([1]).length, 1);
      await new Promise((r) => setTimeout(r, 500)); // time for any further reading to show
      const grown = rssOf(s.m.pid) - before;
      console.log(`# ${transport}: a deaf client's 2,000 calls for 64 KiB each grew the server by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      assert.ok(grown < 48 * 2 ** 20, `the server grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      deaf.end();
    });
  });
}
