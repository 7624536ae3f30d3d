// One test a file: a round starts and stops several child processes, which takes tens
// of seconds on a loaded machine, and the test runner's timeout is per file.
import { describe, it } from 'node:test';
import { TEST_TIMEOUT, TORTURE_MS } from './harness.js';
import { processQueueTorture, randomProcessQueueParams } from './process-queue-round.js';

describe('torture: SharedLifoQueue and SharedPriorityQueue across processes', () => {
  it(
    'SharedLifoQueue and SharedPriorityQueue across processes: bounded or unbounded, children SIGKILLed, nothing lost beyond a dead hand',
    { timeout: TEST_TIMEOUT },
    processQueueTorture((rng) => ({ ...randomProcessQueueParams(rng, rng.chance(0.5), TORTURE_MS), order: rng.pick(['lifo', 'priority'] as const) })),
  );
});
