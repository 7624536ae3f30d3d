// Thread.join() from the thread's own run(): Python raises RuntimeError("cannot join current
// thread"). The instance run() is called on is the thread's copy, rebuilt in its worker.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pipe } from '../../src/index.js';
import { SelfJoiningThread } from '../fixtures/subclass-tasks.js';

describe('a Thread that joins itself', () => {
  it('is told "cannot join current thread", and still ends normally', { timeout: 60_000 }, async () => {
    const [here, there] = Pipe();
    const t = new SelfJoiningThread(there).start();
    assert.equal(await here.recv(), 'Error: self-joiner: cannot join current thread');
    await t.join();
    assert.equal(t.exitCode, 0);
  });
});
