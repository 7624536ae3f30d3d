import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EOFError, Pipe, Process } from '../../src/index.js';
import { RING, ringsAvailable } from '../../src/processes/file-ring.js';
import { children, streamBothWays } from '../fixtures/children.js';

const ringFiles = (): string[] => (ringsAvailable ? readdirSync('/dev/shm').filter((f) => f.startsWith(`concur-pipe-${process.pid}-`)) : []);

// Small values travel through the shared ring file, large ones (and any when the ring is
// full) over IPC; the receiver must put them back in order.
const value = fc.oneof(
  fc.double(),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }), // lone surrogates too
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.dictionary(fc.string(), fc.integer(), { noNullPrototype: true }), // structured clone gives every object a prototype
  fc.integer({ min: 0, max: 40_000 }).map((n) => new Uint8Array(n).fill(n & 255)),
);

describe('Pipe lanes between processes', () => {
  it('any mix of small and large values comes back in order, through both lanes', async () => {
    const [here, there] = Pipe();
    const child = new Process({ target: children.echoSame, args: [there] }).start();
    await fc.assert(
      fc.asyncProperty(fc.array(value, { maxLength: 40 }), async (values) => {
        for (const v of values) here.send(v);
        const back: unknown[] = [];
        for (let i = 0; i < values.length; i++) back.push(await here.recv());
        assert.deepStrictEqual(back, values);
      }),
      { numRuns: 60 },
    );
    here.send('bye');
    await child.join();
    assert.equal(child.exitCode, 0);
  });

  it('more than the ring holds, sent by a child that exits before anything is read, arrives whole and in order, then EOF', async () => {
    const [reader, writer] = Pipe<number>({ duplex: false });
    const n = Math.ceil((4 * RING) / 16); // each number takes 16 bytes of ring (header, tag, float)
    const child = new Process({ target: children.produce, args: [writer, n] }).start();
    await child.join();
    for (let i = 0; i < n; i++) assert.equal(await reader.recv(), i);
    await assert.rejects(reader.recv(), EOFError);
  });

  it('both ends streaming at once, small values and large, each receive everything in order', async () => {
    const [here, there] = Pipe();
    const n = 20_000;
    const child = new Process({ target: children.duplexStream, args: [there, n] }).start();
    const inOrder = await streamBothWays(here, n, { every: 89, step: 37, max: 30_000 });
    assert.equal(inOrder, n, 'the parent received out of order');
    assert.equal(await here.recv(), n, 'the child received out of order');
    here.send('bye');
    await child.join();
    assert.equal(child.exitCode, 0);
  });

  it('a receiver asleep in recv() is woken for a value that comes late', async () => {
    const [here, there] = Pipe();
    const child = new Process({ target: children.sendLater, args: [there, 30, 'late'] }).start();
    assert.equal(await here.recv(), 'late');
    here.send('thanks');
    await child.join();
    assert.equal(child.exitCode, 0);
  });

  it('leaves no ring file behind, whether the child opened it or was killed first', async () => {
    const [a, b] = Pipe();
    const child = new Process({ target: children.echoSame, args: [b] }).start();
    a.send(1);
    assert.equal(await a.recv(), 1);
    assert.deepEqual(ringFiles(), [], 'removed once the child has it open');
    a.send('bye');
    await child.join();

    const [c, d] = Pipe();
    const killed = new Process({ target: children.echoSame, args: [d] }).start();
    killed.kill();
    await killed.join();
    await assert.rejects(c.recv(), EOFError);
    assert.deepEqual(ringFiles(), []);
  });
});
