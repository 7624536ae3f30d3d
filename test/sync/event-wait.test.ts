import { describe, it } from 'node:test';
import { Event, Thread } from '../../src/index.js';
import { regressionTasks } from '../fixtures/sync-torture-tasks.js';
import { delay, ints, joinAll, watch } from './harness.js';

describe('Event (issue 10, item 1)', () => {
  it('waitSync never sleeps on while the flag is set: pairs of threads ping-pong with two Events and no timeouts', async () => {
    const pairs = 3;
    const runMs = 5000;
    const progress = ints(2 * pairs);
    const stop = ints();
    const events = Array.from({ length: pairs }, () => [new Event(), new Event()] as const);
    const threads = events.flatMap(([e1, e2], p) => [
      new Thread({ target: regressionTasks.eventPingPong, args: [e1, e2, true, progress, 2 * p, stop] }).start(),
      new Thread({ target: regressionTasks.eventPingPong, args: [e1, e2, false, progress, 2 * p + 1, stop] }).start(),
    ]);
    const finished = (async () => {
      // The run starts once every thread has made a round trip (starting them is slow on a loaded machine).
      while (progress.some((_, i) => Atomics.load(progress, i) === 0)) await delay(20);
      await delay(runMs);
    })();
    const state = (): string =>
      `round trips ${[...progress].join(',')}; isSet ${events.map(([a, b]) => `${a.isSet()}/${b.isSet()}`).join(' ')}; ` +
      `[flag, generation] ${events.map(([a, b]) => `${[...a._state]}/${[...b._state]}`).join(' ')}; alive ${threads.map((t) => t.isAlive()).join(',')}`;
    try {
      await watch('Event ping-pong', progress, finished, { stallMs: 3000, totalMs: 100_000, state });
      Atomics.store(stop, 0, 1);
      await joinAll('Event ping-pong', threads, 60_000, state);
    } finally {
      for (const t of threads) t.terminate();
    }
    console.log(`# round trips per pair: ${[...progress].filter((_, i) => i % 2 === 0).join(', ')}`);
  });
});
