// callInBroker: a call from the owner's own process into the broker thread that serves
// its objects (the manager server's start), with no socket and no helper thread.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/index.js';
import { brokerListening, callInBroker, exportObject } from '../../src/proxy/owner.js';
import { ManagerRoot } from '../../src/manager/served.js';
import { specOf } from '../../src/tasks/describe.js';
import { brokerExitTasks } from '../fixtures/broker-exit-tasks.js';

describe('callInBroker', () => {
  it('answers with the operation\'s result; an unknown operation rejects naming it', async () => {
    const ref = exportObject(new ManagerRoot(undefined, []));
    // The broker never keeps a process alive (a manager's server waits on its Pipe): this does.
    const alive = setInterval(() => {}, 1000);
    await brokerListening().finally(() => clearInterval(alive));
    assert.equal(await callInBroker(ref, 'objectCount', []), 0);
    await assert.rejects(callInBroker(ref, 'noSuchOp', []), (e) => e instanceof TypeError && /ManagerRoot has no operation "noSuchOp"/.test(e.message));
    await assert.rejects(callInBroker({ ...ref, pid: ref.pid + 1 }, 'objectCount', []), /not shared by this process/);
    // Arguments the structured clone refuses: a rejection, not a throw from the call.
    const refused = callInBroker(ref, 'objectCount', [() => 1]);
    await assert.rejects(refused, (e) => (e as Error).name === 'DataCloneError');
    assert.equal(await callInBroker(ref, 'objectCount', []), 0, 'and the broker still answers');
  });

  // Last: it ends this process's broker thread.
  it('rejects, rather than waiting for ever, when the broker thread ends before it answers', { timeout: 30_000 }, async () => {
    const ref = exportObject(new ManagerRoot(specOf(brokerExitTasks.endThisThread), []));
    await assert.rejects(callInBroker(ref, 'start', [ref, 'token', 1000]), /the broker thread ended before it answered start/);
  });
});
