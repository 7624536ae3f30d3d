// An async operation at the broker whose answer cannot be serialized: the caller gets an
// error naming what could not be sent, and the broker neither crashes nor leaves an
// unhandled rejection behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Manager } from '../../src/index.js';
import { probeTasks } from '../fixtures/manager-probe-tasks.js';

interface Probe {
  unhandled(): number;
  fnLater(): unknown;
  symbolLater(): unknown;
  promiseLater(): unknown;
  ok(): string;
}

describe('an async answer that cannot be sent', () => {
  let m: Manager;
  before(async () => {
    m = await Manager.start();
    m.register('Probe', probeTasks.makeProbe);
  });
  after(() => m.shutdown());

  it('fails the call with an error naming the type, and the broker goes on serving', { timeout: 30_000 }, () => {
    const p = m.create<Probe>('Probe');
    assert.throws(() => p.fnLater(), (err: Error) => err instanceof TypeError && /fnLater/.test(err.message) && /function callback/.test(err.message) && /\.deep\[1\]/.test(err.message));
    assert.throws(() => p.symbolLater(), (err: Error) => err instanceof TypeError && /symbolLater/.test(err.message) && /symbol/.test(err.message));
    assert.throws(() => p.promiseLater(), (err: Error) => err instanceof TypeError && /WeakMap/.test(err.message));
    assert.equal(p.ok(), 'still here');
    assert.equal(p.unhandled(), 0, 'no unhandled rejection in the broker');
  });
});
