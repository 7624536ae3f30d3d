// One test a file: a round starts and stops several child processes, which takes tens
// of seconds on a loaded machine, and the test runner's timeout is per file.
import { describe, it } from 'node:test';
import { TEST_TIMEOUT, TORTURE_MS } from './harness.js';
import { processQueueTorture, randomProcessQueueParams } from './process-queue-round.js';

describe('torture: SharedQueue across processes (bounded)', () => {
  it(
    'a bounded queue used by child processes and pool tasks SIGKILLed inside get and put loses nothing beyond the item in a dead hand',
    { timeout: TEST_TIMEOUT },
    processQueueTorture((rng) => randomProcessQueueParams(rng, false, TORTURE_MS)),
  );
});
