import { describe, it } from 'node:test';
import { runFor, TEST_TIMEOUT, torture, TORTURE_MS } from './harness.js';
import { queueRound, randomParams } from './queue-round.js';

describe('torture: SharedQueue between threads', () => {
  it(
    'more producers and consumers than slots, random put/get forms and timeouts, threads terminated mid-operation, shutdown at random',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      let kills = 0;
      let gets = 0;
      const rounds = await runFor(TORTURE_MS, async (round) => {
        const params = randomParams(rng, 0.5, TORTURE_MS);
        note(`round ${round}: ${JSON.stringify(params)}`);
        const r = await queueRound(rng, params);
        kills += r.kills;
        gets += r.gets;
      });
      report(`${rounds} rounds, ${kills} workers terminated, ${gets} items got`);
    }),
  );

  it(
    'items of every size up to the whole ring, at every ring offset',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      let puts = 0;
      const rounds = await runFor(TORTURE_MS, async (round) => {
        // Records up to the ring's whole capacity: a record larger than half of it must
        // still go into an empty ring, whatever offset the last one left.
        const params = { ...randomParams(rng, 1, TORTURE_MS), killGapMs: rng.pick([0, 200]), poolTimeoutMs: 0 };
        note(`round ${round}: ${JSON.stringify(params)}`);
        puts += (await queueRound(rng, params)).puts;
      });
      report(`${rounds} rounds, ${puts} items put`);
    }),
  );

  it(
    'SharedLifoQueue and SharedPriorityQueue: the same churn, terminations and sizes over their one-lock stack',
    { timeout: TEST_TIMEOUT },
    torture(async ({ rng, note, report }) => {
      let kills = 0;
      let gets = 0;
      const rounds = await runFor(TORTURE_MS, async (round) => {
        const params = { ...randomParams(rng, rng.pick([0.5, 1]), TORTURE_MS), order: rng.pick(['lifo', 'priority'] as const) };
        note(`round ${round}: ${JSON.stringify(params)}`);
        const r = await queueRound(rng, params);
        kills += r.kills;
        gets += r.gets;
      });
      report(`${rounds} rounds, ${kills} workers terminated, ${gets} items got`);
    }),
  );
});
