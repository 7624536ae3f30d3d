// The iterator map() returns, driven as a user may drive it: several next() calls issued
// at once (Promise.all over next(), a consumer that does not await each), and return()
// (a `break`, or a caller that gives up) while a next() still waits. Every next() must
// settle, in order, each with its own value; nothing may hang.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsyncExecutor } from '../../src/index.js';

/** Tasks the test finishes one by one: run(i) waits until release(i); started lists the items begun. */
function gates(): { run: (i: number) => Promise<number>; release: (i: number) => void; started: number[]; begun: (n: number) => Promise<void> } {
  const opened = new Map<number, () => void>();
  const waiting = new Map<number, Promise<void>>();
  const gate = (i: number): Promise<void> => {
    let p = waiting.get(i);
    if (p === undefined) {
      p = new Promise<void>((r) => opened.set(i, r));
      waiting.set(i, p);
    }
    return p;
  };
  const started: number[] = [];
  let onStart: (() => void) | undefined;
  return {
    run: async (i) => {
      started.push(i);
      onStart?.();
      await gate(i);
      return i * 10;
    },
    release: (i) => {
      gate(i);
      opened.get(i)!();
    },
    started,
    begun: (n) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (started.length >= n) {
            onStart = undefined;
            resolve();
          }
        };
        onStart = check;
        check();
      }),
  };
}

describe('map: next() calls issued at once', () => {
  for (const chunksize of [1, 2]) {
    it(`ordered (chunksize ${chunksize}): each resolves in input order with its own value, then done`, { timeout: 10_000 }, async () => {
      await using ex = new AsyncExecutor();
      const g = gates();
      const items = [0, 1, 2, 3, 4];
      const it = ex.map(g.run, items, { chunksize });
      const nexts = [...items, 'end'].map(() => it.next());
      await g.begun(Math.ceil(items.length / chunksize)); // a chunk runs its items one after another
      for (const i of [...items].reverse()) g.release(i);
      const got = await Promise.all(nexts);
      assert.deepEqual(
        got,
        [...items.map((i) => ({ value: i * 10, done: false })), { value: undefined, done: true }],
      );
    });
  }

  it('unordered: each next() gets a distinct result, none twice, none lost', { timeout: 10_000 }, async () => {
    await using ex = new AsyncExecutor();
    const g = gates();
    const items = [0, 1, 2, 3, 4];
    const it = ex.map(g.run, items, { ordered: false });
    const nexts = [...items, 'end'].map(() => it.next());
    await g.begun(items.length);
    for (const i of [3, 1, 4, 0, 2]) g.release(i);
    const got = await Promise.all(nexts);
    assert.deepEqual(got.at(-1), { value: undefined, done: true });
    assert.deepEqual(got.slice(0, -1).map((r) => r.value as number).sort((a, b) => a - b), [0, 10, 20, 30, 40]);
  });
});

describe('map: return() while a next() waits', () => {
  for (const ordered of [true, false]) {
    it(`ordered: ${ordered}: the waiting next() resolves done, and the items not started are cancelled`, { timeout: 10_000 }, async () => {
      const ex = new AsyncExecutor({ maxConcurrency: 1 });
      const g = gates();
      const it = ex.map(g.run, [0, 1, 2, 3], { ordered });
      const waiting = it.next();
      await g.begun(1);
      assert.deepEqual(await it.return!(), { value: undefined, done: true });
      assert.deepEqual(await waiting, { value: undefined, done: true });
      assert.deepEqual(await it.next(), { value: undefined, done: true });
      g.release(0);
      await ex.shutdown({ wait: true });
      assert.deepEqual(g.started, [0], 'items 1 to 3 had not started: return() cancels them');
    });
  }

  it('a next() waiting on an async source that has yielded nothing yet resolves done', { timeout: 10_000 }, async () => {
    await using ex = new AsyncExecutor();
    let closed = false;
    // An async source whose first item never comes (a socket that stays silent).
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<number>>(() => {}),
        return: async () => {
          closed = true;
          return { value: undefined, done: true };
        },
      }),
    };
    const it = ex.map((x: number) => x, source);
    const waiting = it.next();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(await it.return!(), { value: undefined, done: true });
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.ok(closed, 'the source was closed');
  });
});
