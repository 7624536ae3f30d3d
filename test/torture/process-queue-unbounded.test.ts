// One test a file: a round starts and stops several child processes, which takes tens
// of seconds on a loaded machine, and the test runner's timeout is per file.
import { describe, it } from 'node:test';
import { TEST_TIMEOUT, TORTURE_MS } from './harness.js';
import { processQueueTorture, randomProcessQueueParams } from './process-queue-round.js';

describe('torture: SharedQueue across processes (unbounded)', () => {
  it(
    'what producer processes put into an unbounded queue has landed when they end, while consumers are SIGKILLed',
    { timeout: TEST_TIMEOUT },
    processQueueTorture((rng) => randomProcessQueueParams(rng, true, TORTURE_MS)),
  );
});
