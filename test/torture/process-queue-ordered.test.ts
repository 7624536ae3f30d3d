// One test a file: a round starts and stops several child processes, which takes tens
// of seconds on a loaded machine, and the test runner's timeout is per file.
import { describe, it } from 'node:test';
import { runFor, TEST_TIMEOUT, torture, TORTURE_MS } from './harness.js';
import { processQueueRound, randomProcessQueueParams } from './process-queue-round.js';

describe('torture: SharedLifoQueue and SharedPriorityQueue across processes', () => {
  it(
    'SharedLifoQueue and SharedPriorityQueue across processes: bounded or unbounded, children SIGKILLed, nothing lost beyond a dead hand',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      let kills = 0;
      let taken = 0;
      let gaveUp = 0;
      const rounds = await runFor(TORTURE_MS, async (round) => {
        const params = { ...randomProcessQueueParams(rng, rng.chance(0.5), TORTURE_MS), order: rng.pick(['lifo', 'priority'] as const) };
        note(`round ${round}: ${JSON.stringify(params)}`);
        const r = await processQueueRound(rng, params);
        kills += r.kills;
        taken += r.taken;
        gaveUp += r.gaveUp;
      });
      report(`${rounds} rounds, ${kills} children killed, ${taken} items taken, ${gaveUp} gets given up on a late owner`);
    }),
  );
});
