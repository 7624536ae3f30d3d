import { describe, it } from 'node:test';
import { runFor, TEST_TIMEOUT, torture, TORTURE_MS } from './harness.js';
import { processQueueRound, randomProcessQueueParams } from './process-queue-round.js';

describe('torture: SharedQueue across processes', () => {
  it(
    'a bounded queue used by child processes and pool tasks SIGKILLed inside get and put loses nothing beyond the item in a dead hand',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      let kills = 0;
      let taken = 0;
      let gaveUp = 0;
      const rounds = await runFor(TORTURE_MS, async (round) => {
        const params = randomProcessQueueParams(rng, false, TORTURE_MS);
        note(`round ${round}: ${JSON.stringify(params)}`);
        const r = await processQueueRound(rng, params);
        kills += r.kills;
        taken += r.taken;
        gaveUp += r.gaveUp;
      });
      report(`${rounds} rounds, ${kills} children killed, ${taken} items taken, ${gaveUp} gets given up on a late owner`);
    }),
  );

  it(
    'what producer processes put into an unbounded queue has landed when they end, while consumers are SIGKILLed',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      let kills = 0;
      let taken = 0;
      let gaveUp = 0;
      const rounds = await runFor(TORTURE_MS, async (round) => {
        const params = randomProcessQueueParams(rng, true, TORTURE_MS);
        note(`round ${round}: ${JSON.stringify(params)}`);
        const r = await processQueueRound(rng, params);
        kills += r.kills;
        taken += r.taken;
        gaveUp += r.gaveUp;
      });
      report(`${rounds} rounds, ${kills} children killed, ${taken} items taken, ${gaveUp} gets given up on a late owner`);
    }),
  );

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
