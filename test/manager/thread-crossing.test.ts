// A proxy passed to a thread that takes it late (a pool thread busy with another task)
// stays counted in the server although the passing thread dropped it at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Event, Manager, Thread, ThreadPoolExecutor } from '../../src/index.js';
import { threadTasks } from '../fixtures/manager-probe-tasks.js';
import { slowTasks } from '../fixtures/manager-slow-tasks.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('a proxy on its way to a thread', () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
  });
  after(() => m.shutdown());

  it('is not freed before a Thread that starts slowly takes it, though nothing here refers to it or the Thread', { timeout: 60_000 }, async () => {
    const out = m.dict();
    const done = new Event();
    const base = m.objectCount();
    // The Thread's module takes 3 s to load; its arguments are taken after that.
    ((): void => {
      new Thread({ target: slowTasks.lengthInto, args: [m.list([1, 2, 3]), out, done] }).start();
    })();
    assert.equal(m.objectCount(), base + 1);
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(await done.wait(30_000), true);
    assert.equal(out.get('length'), 3);
  });

  it('is not freed before a busy pool thread takes it', { timeout: 60_000 }, async () => {
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const go = new Event();
    const busy = pool.submit(threadTasks.waitFor, go);
    const base = m.objectCount();
    // The only reference to the list goes with the task.
    const result = ((): Promise<number> => pool.submit(threadTasks.lengthOf, m.list([1, 2, 3])))();
    assert.equal(m.objectCount(), base + 1);
    // Collected here, its count would go down a second later (and the list be freed).
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(m.objectCount(), base + 1, 'the list is still there');
    go.set();
    assert.equal(await busy, true);
    assert.equal(await result, 3);
  });
});
