import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  ProcessPoolExecutor,
  RLock,
  Semaphore,
  SharedArray,
  SharedQueue,
  ThreadPoolExecutor,
  Value,
} from '../../src/index.js';
import { suite, type SuiteArgs } from '../fixtures/location-suite.js';

const fresh = (): SuiteArgs => [
  new Lock(),
  new RLock(),
  new Semaphore(2),
  new BoundedSemaphore(1),
  new Event(),
  new Condition(),
  new Value('i32', 0),
  new Value('i64', 0n),
  new SharedArray('f64', 3),
  new SharedQueue({ maxsize: 2 }),
];

test('the primitive suite passes in this thread', async () => {
  assert.deepEqual(await suite.primitiveSuite(...fresh()), []);
});

test('the primitive suite passes in a worker thread, on shared memory', async () => {
  await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
  assert.deepEqual(await pool.submit(suite.primitiveSuite, ...fresh()), []);
});

test('the primitive suite passes in a child process, through proxies served by this process', async () => {
  await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
  const args = fresh();
  assert.deepEqual(await pool.submit(suite.primitiveSuite, ...args), []);
  // What the child did happened to the objects here.
  assert.equal(args[6].value, 42);
  assert.equal(args[8].array[1], 1.5);
  assert.equal(args[9].qsize(), 0);
});
