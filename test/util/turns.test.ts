import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Turns } from '../../src/util/turns.js';

/** Keeps the thread busy for `ms` of the clock, as a synchronous task does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** A coroutine as concur map's chunks are: items one after another, each taking its turn. */
async function coroutine(turns: Turns, name: string, items: number, ms: number, log: string[], onItem?: () => void): Promise<void> {
  let continuing = false;
  for (let i = 0; i < items; i++) {
    const wait = turns.take(performance.now(), continuing);
    continuing = true;
    if (wait !== undefined) await wait;
    log.push(name);
    onItem?.();
    busy(ms);
  }
}

describe('Turns', () => {
  it('lets a timer run between two long items of coroutines that resumed together', async () => {
    const turns = new Turns();
    const log: string[] = [];
    const gate = Promise.resolve();
    let timerSawItems = -1;
    // Resumed in one chain of microtasks, as chunks awaiting one module load are.
    const runs = ['a', 'b', 'c', 'd'].map((n) => gate.then(() => coroutine(turns, n, 3, 20, log)));
    setTimeout(() => (timerSawItems = log.length), 0);
    await Promise.all(runs);
    assert.equal(log.length, 12);
    // Without turns all 12 items ran before the timer; with them it runs after the first.
    assert.ok(timerSawItems >= 1 && timerSawItems <= 2, `the timer ran after ${timerSawItems} items`);
  });

  it('gives waiting coroutines their turns first come, first served, before newcomers', async () => {
    const turns = new Turns();
    const log: string[] = [];
    const gate = Promise.resolve();
    // Each item started in a turn sends a newcomer for the next turn, whose callback runs
    // before the turn lets the waiters go (as the AsyncExecutor's own resumption does):
    // without a line, b and c would wait behind every newcomer.
    const newcomers: Promise<void>[] = [];
    let k = 0;
    const send = (): void => {
      if (k < 5) setImmediate(() => newcomers.push(coroutine(turns, `new${k++}`, 1, 20, log, send)));
    };
    const first = ['a', 'b', 'c'].map((n) => gate.then(() => coroutine(turns, n, 1, 20, log, n === 'a' ? send : undefined)));
    await Promise.all(first);
    while (k < 5 || newcomers.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    await Promise.all(newcomers);
    assert.deepEqual(log.slice(0, 3), ['a', 'b', 'c']);
  });

  it('lets many short items share a turn: few waits for thousands of items', async () => {
    const turns = new Turns();
    let waits = 0;
    const run = async (): Promise<void> => {
      let continuing = false;
      for (let i = 0; i < 20_000; i++) {
        const wait = turns.take(performance.now(), continuing);
        continuing = true;
        if (wait !== undefined) {
          waits++;
          await wait;
        }
        busy(0.001);
      }
    };
    await Promise.all([run(), run()]);
    // About one wait per 8 ms slice, far fewer than one per item.
    assert.ok(waits < 2_000, `${waits} waits for 40,000 items`);
  });
});
