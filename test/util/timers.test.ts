import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { MAX_TIMER_MS, setLongTimeout } from '../../src/util/timers.js';
import { own, TSX } from '../fixtures/source.js';

/**
 * Starts a long timer of `ms` and, just before it, a plain timer of `ms - 1`; resolves
 * with the order they fired in. Node counts both from the same loop time, so the long
 * one firing first means it ended early (wall-clock checks would not: Node's loop time
 * can lag performance.now()).
 */
const plainTimeout = globalThis.setTimeout; // the test below spies on the global one

function race(ms: number, maxStep?: number): { order: Promise<string[]>; timer: ReturnType<typeof setLongTimeout> } {
  const order: string[] = [];
  let timer!: ReturnType<typeof setLongTimeout>;
  const done = new Promise<string[]>((resolve) => {
    plainTimeout(() => order.push('plain'), ms - 1);
    timer = setLongTimeout(() => {
      order.push('long');
      resolve(order);
    }, ms, maxStep);
  });
  return { order: done, timer };
}

describe('setLongTimeout', () => {
  it('a delay within one Node timer fires once, not before its delay', { timeout: 120_000 }, async () => {
    const { order, timer } = race(30);
    assert.equal(timer.pending, true);
    assert.deepEqual(await order, ['plain', 'long']);
    assert.equal(timer.pending, false);
  });

  it('chains links of at most maxStep until the whole delay has passed', { timeout: 120_000 }, async () => {
    const steps: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    let link: unknown;
    // Spy on the links of this chain alone: they all run the same callback.
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      link ??= fn;
      if (fn === link) steps.push(ms);
      return realSetTimeout(fn, ms);
    }) as typeof setTimeout;
    try {
      const { order } = race(47, 10);
      assert.deepEqual(steps, [10], 'only the first link is scheduled at once');
      assert.deepEqual(await order, ['plain', 'long']);
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    assert.deepEqual(steps, [10, 10, 10, 10, 7]);
  });

  it('clear() in the middle of a chain stops it for good', { timeout: 120_000 }, async () => {
    let fired = false;
    const timer = setLongTimeout(() => (fired = true), 60, 5);
    await new Promise((r) => setTimeout(r, 22)); // several links in
    assert.equal(timer.pending, true);
    timer.clear();
    assert.equal(timer.pending, false);
    await new Promise((r) => setTimeout(r, 80)); // past the whole delay
    assert.equal(fired, false);
    timer.clear(); // harmless twice
  });

  it('an unref()ed chain lets the program exit; ref() holds it again, on every link', { timeout: 120_000 }, () => {
    const run = (code: string): { status: number | null; stdout: string } => {
      const r = spawnSync(process.execPath, [...TSX, '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 50_000 });
      return { status: r.status, stdout: r.stdout };
    };
    const url = new URL(own('../../src/util/timers.ts'), import.meta.url).href;
    // 100 s in links of 20 ms, unref'd: the program ends with its other 100 ms timer,
    // links re-armed meanwhile included (a chain that held it would be killed at 50 s)...
    const unref = run(`import { setLongTimeout } from '${url}'; setLongTimeout(() => console.log('fired'), 100_000, 20).unref(); setTimeout(() => {}, 100);`);
    assert.equal(unref.status, 0, 'the unref\'d chain held the program');
    assert.equal(unref.stdout, '');
    // ...and waits for the end of the chain when unref'd then ref'd again after a few links.
    const reref = run(
      `import { setLongTimeout } from '${url}'; const t = setLongTimeout(() => console.log('fired', t.hasRef()), 300, 20).unref();` +
        ` setTimeout(() => t.ref(), 50);`,
    );
    assert.equal(reref.status, 0);
    assert.equal(reref.stdout, 'fired true\n');
  });

  it('an infinite delay never fires, holds nothing open, and can be cleared', { timeout: 120_000 }, () => {
    const url = new URL(own('../../src/util/timers.ts'), import.meta.url).href;
    const r = spawnSync(
      process.execPath,
      [...TSX, '--input-type=module', '-e', `import { setLongTimeout } from '${url}'; const t = setLongTimeout(() => console.log('fired'), Infinity); console.log(t.pending); t.clear(); console.log(t.pending);`],
      { encoding: 'utf8', timeout: 50_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'true\nfalse\n');
  });

  it('a delay past 2^31-1 ms is split into links Node honours (no TimeoutOverflowWarning)', { timeout: 120_000 }, async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    let fired = false;
    const timer = setLongTimeout(() => (fired = true), MAX_TIMER_MS * 2 + 5);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fired, false);
    assert.equal(timer.pending, true);
    timer.clear();
    process.off('warning', onWarning);
    assert.deepEqual(warnings, []);
  });

  it('refuses a maxStep Node would clamp', { timeout: 120_000 }, () => {
    assert.throws(() => setLongTimeout(() => {}, 10, MAX_TIMER_MS + 1), RangeError);
    assert.throws(() => setLongTimeout(() => {}, 10, 0), RangeError);
  });
});
