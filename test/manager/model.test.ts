// A manager's dict and list against a plain Map and array: random operations (fast-check),
// each run by this process or by a child process through its own proxies, every answer
// compared with the model's, and the whole contents after each run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Manager, Pipe, Process, type DictProxy, type ListProxy } from '../../src/index.js';
import { modelTasks, onModel, throughProxies, type ContainerOp, type Key } from '../fixtures/container-model.js';

const key = fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: -1, max: 2 }));
const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('x', 'y', null), fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }), fc.record({ n: fc.integer({ min: 0, max: 2 }) }, { noNullPrototype: true }));
const index = fc.integer({ min: -4, max: 4 });

const dictOp: fc.Arbitrary<ContainerOp> = fc.oneof(
  fc.record({ on: fc.constant('dict' as const), op: fc.constantFrom('set' as const, 'setdefault' as const), k: key, v: value }),
  fc.record({ on: fc.constant('dict' as const), op: fc.constantFrom('get' as const, 'has' as const, 'delete' as const), k: key }),
  fc.record({ on: fc.constant('dict' as const), op: fc.constant('pop' as const), k: key, dflt: fc.option(fc.tuple(value), { nil: undefined }) }, { requiredKeys: ['on', 'op', 'k'] }),
  fc.record({ on: fc.constant('dict' as const), op: fc.constantFrom('size' as const, 'keys' as const, 'values' as const, 'entries' as const, 'clear' as const, 'copy' as const) }),
  fc.record({ on: fc.constant('dict' as const), op: fc.constant('update' as const), entries: fc.array(fc.tuple(key, value), { maxLength: 3 }) }),
);
const listOp: fc.Arbitrary<ContainerOp> = fc.oneof(
  fc.record({ on: fc.constant('list' as const), op: fc.constant('push' as const), items: fc.array(value, { maxLength: 3 }) }),
  fc.record({ on: fc.constant('list' as const), op: fc.constant('pop' as const), i: fc.option(index, { nil: undefined }) }, { requiredKeys: ['on', 'op'] }),
  fc.record({ on: fc.constant('list' as const), op: fc.constantFrom('insert' as const, 'set' as const), i: index, v: value }),
  fc.record({ on: fc.constant('list' as const), op: fc.constantFrom('at' as const, 'index' as const), i: index }),
  fc.record({ on: fc.constant('list' as const), op: fc.constantFrom('remove' as const, 'indexOf' as const, 'count' as const, 'includes' as const), v: value }),
  fc.record({ on: fc.constant('list' as const), op: fc.constant('slice' as const), start: fc.option(index, { nil: undefined }), end: fc.option(index, { nil: undefined }) }, { requiredKeys: ['on', 'op'] }),
  fc.record({ on: fc.constant('list' as const), op: fc.constantFrom('length' as const, 'copy' as const, 'clear' as const, 'iterate' as const) }),
);

describe('a manager dict and list against a model, from two processes', () => {
  let m: Manager;
  let d: DictProxy<unknown, Key>;
  let l: ListProxy<unknown>;
  let child: Process<any>;
  let conn: ReturnType<typeof Pipe<unknown>>[0];
  before(async () => {
    m = await Manager.start();
    d = m.dict<unknown, Key>();
    l = m.list<unknown>();
    const [here, there] = Pipe<unknown>();
    conn = here;
    child = new Process({ target: modelTasks.runOps, args: [d, l, there] }).start();
  });
  after(async () => {
    conn.send(null);
    await child.join();
    await m.shutdown();
  });

  it('every answer, here or in the child, is the model\'s; so are the contents after each run', { timeout: 110_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.oneof(dictOp, listOp)), { maxLength: 40 }), async (steps) => {
        d.clear();
        l.clear();
        const model = new Map<Key, unknown>();
        const arr: unknown[] = [];
        for (const [inChild, op] of steps) {
          let got;
          if (inChild) {
            conn.send(op);
            got = await conn.recv();
          } else got = throughProxies(d, l, op);
          assert.deepEqual(got, onModel(model, arr, op), `${inChild ? 'the child' : 'here'}: ${JSON.stringify(op)}`);
        }
        assert.deepEqual(d.entries(), [...model]);
        assert.deepEqual(l.copy(), arr);
      }),
      { numRuns: Number(process.env.CONCUR_MODEL_RUNS ?? 150) },
    );
  });
});
