// A manager's server under a million fuzzed frames from an authenticated client, over
// TCP and a Unix socket: it must not crash, its memory must stay bounded, and a
// legitimate client must still be served afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager, type DictProxy } from '../../src/index.js';
import { tcpAddr } from '../../src/proxy/protocol.js';
import { cpuOf, fuzz, pingAnswered, rssOf, write } from '../fixtures/fuzz-frames.js';
import { RawPeer } from '../fixtures/raw-peer.js';

const authkey = 'hostile tests';
const dir = mkdtempSync(join(tmpdir(), 'concur-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const transport of ['tcp', 'unix'] as const) {
  describe(`a manager over ${transport === 'tcp' ? 'TCP' : 'a Unix socket'} and fuzzed frames`, () => {
    let m: Manager;
    let addr: string;
    let d: DictProxy<number>;
    const peers: RawPeer[] = [];
    const peer = (): RawPeer => {
      const p = new RawPeer(addr, Buffer.from(authkey));
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

    // A million over TCP, where anyone may knock; fewer over the Unix socket, whose path
    // goes the same way once read (CONCUR_FUZZ_FRAMES sets both).
    const count = Number(process.env.CONCUR_FUZZ_FRAMES ?? (transport === 'tcp' ? 1_000_000 : 100_000));
    it(`${count.toLocaleString('en')} fuzzed frames once authenticated: no crash, bounded memory, a legitimate client still served`, { timeout: 180_000 }, async () => {
      const fuzzer = peer();
      assert.equal(await fuzzer.authenticate(), true);
      const flushed = pingAnswered(fuzzer);
      const ids = { root: 1, dict: (d as unknown as { _ref: { id: number } })._ref.id, list: (m.list([1, 2]) as unknown as { _ref: { id: number } })._ref.id, value: (m.value(1) as unknown as { _ref: { id: number } })._ref.id };
      // Frames as large as the cap allows: junk of 1 MiB, then one of exactly maxFrameBytes.
      const cap = (d as unknown as { _ref: { maxFrame: number } })._ref.maxFrame;
      for (const n of [1 << 20, 1 << 20, cap]) {
        const big = Buffer.alloc(4 + n, 0x5a);
        big.writeUInt32LE(n, 0);
        big.writeUInt32LE(0, 4); // call id 0: no answer
        await write(fuzzer, big);
      }
      // Warm up (the same frames), so the baseline is a server that has run this code.
      for (const batch of fuzz(50_000, ids)) await write(fuzzer, batch);
      await flushed();
      // Bounded means a flood leaves nothing a second flood adds to: a call per frame held
      // for ever (the bug this found) grew the server by 157 MiB a flood and kept it. What
      // one flood grows and keeps is not that: the heap's high-water mark and malloc's
      // arenas, which stayed at 160 to 320 MiB after a flood at load (collector threads
      // starved) and at 188 MiB once on a quiet machine. So: flood twice; the second may
      // not grow it by the bound once it had up to 15 s to give back what it does not keep.
      const flood = async (): Promise<{ grown: number; took: number; bytes: number; cpu: number }> => {
        const before = rssOf(m.pid);
        const cpu = cpuOf(m.pid);
        const started = performance.now();
        let bytes = 0;
        for (const batch of fuzz(count, ids)) {
          bytes += batch.length;
          await write(fuzzer, batch);
        }
        await flushed();
        return { grown: rssOf(m.pid) - before, took: performance.now() - started, bytes, cpu: cpuOf(m.pid) - cpu };
      };
      const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
      const base = rssOf(m.pid);
      const first = await flood();
      const afterFirst = rssOf(m.pid);
      const second = await flood();
      const bound = 96 * 2 ** 20;
      let grown = second.grown;
      for (const until = performance.now() + 15_000; grown >= bound && performance.now() < until; grown = rssOf(m.pid) - afterFirst) {
        await new Promise((r) => setTimeout(r, 250));
      }
      console.log(
        `# ${transport}: 2 x ${count} frames (${(first.bytes / 2 ** 20).toFixed(0)} MiB each) in ${Math.round(first.took)} + ${Math.round(second.took)} ms ` +
          `(server CPU ${first.cpu.toFixed(1)} + ${second.cpu.toFixed(1)} s); ${mib(fuzzer.receivedBytes)} MiB answered; ` +
          `server RSS ${mib(base)} MiB, grew ${mib(first.grown)} MiB, then ${mib(second.grown)} MiB more (${mib(grown)} MiB once settled)`,
      );
      assert.ok(grown < bound, `a second flood grew the server by ${mib(grown)} MiB more and kept it for 15 s (the first: ${mib(first.grown)} MiB): memory kept per frame`);
      assert.equal(d.get('served'), 1);
      const other = await Manager.connect({ address: m.address, authkey });
      assert.equal(other.list([3]).pop(), 3);
    });
  });
}
