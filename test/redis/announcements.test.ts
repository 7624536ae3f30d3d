/**
 * What a worker sends while its jobs wait for their executors' answers, counted on a
 * stand-in for Redis: the question ("is the executor's lease still there?") goes once a
 * tick per executor, in one write, however many jobs wait; only a job asked about again
 * (unanswered for a second) is published to its executor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { Announcements } from '../../src/redis/announcements.js';

/** A publisher that records each write (a pipeline's commands) and answers EXISTS with `exists`. */
function recorder(exists: number) {
  const writes: string[][] = [];
  let wrote: (() => void) | undefined;
  const publisher = {
    pipeline() {
      const commands: string[] = [];
      const p = {
        publish: (channel: string, message: string) => (commands.push(`publish ${channel} ${message}`), p),
        exists: (key: string) => (commands.push(`exists ${key}`), p),
        exec: async () => {
          writes.push(commands);
          wrote?.();
          return commands.map((c) => [null, c.startsWith('exists') ? exists : 1]);
        },
      };
      return p;
    },
    exists: async () => 0,
    ping: async () => 'PONG',
  };
  const next = () => new Promise<void>((resolve) => (wrote = resolve));
  return { publisher: publisher as unknown as Redis, writes, next };
}

describe('Announcements: what a worker sends while jobs wait for their answers', () => {
  it('jobs of one executor that wait together cost one EXISTS of its lease a write, and no PUBLISH until asked again', async () => {
    const { publisher, writes, next } = recorder(1);
    const a = new Announcements('bull', 'q', publisher, publisher);
    const alive = setInterval(() => {}, 1000); // its own timer does not keep the process up
    const asked = (lease: string): boolean => writes.some((w) => w.includes(`exists bull:q:concur-lease:${lease}`));
    const publishes = (): string[] => writes.flat().filter((c) => c.startsWith('publish'));
    try {
      for (let i = 1; i <= 20; i++) a.announce(`exec1-${i}`);
      a.announce('exec2-1');
      // Made in one turn, they are due within one tick of each other (a tick can fall
      // between the first and the last by a hair): at most two writes ask about them.
      while (!asked('exec1') || !asked('exec2')) await next();
      assert.ok(writes.length <= 2, `21 waiting jobs asked about in ${writes.length} writes: ${JSON.stringify(writes)}`);
      assert.deepEqual(publishes(), [], 'a first question publishes nothing');
      // Still unanswered a second later: each job is published again (to be answered), once.
      while (publishes().length < 21) await next();
      assert.equal(new Set(publishes()).size, 21);
      assert.ok(publishes().includes('publish bull:q:concur-started:exec1 exec1-7 again'));
      for (const w of writes) assert.equal(new Set(w.filter((c) => c.startsWith('exists'))).size, w.filter((c) => c.startsWith('exists')).length, 'a lease read twice in one write');
    } finally {
      clearInterval(alive);
      a.close();
    }
  });

  it('a job whose answer came is not asked about; one whose lease is gone goes on', async () => {
    const { publisher, writes, next } = recorder(0);
    const a = new Announcements('bull', 'q', publisher, publisher);
    const alive = setInterval(() => {}, 1000); // its own timer does not keep the process up
    try {
      const answered = a.announce('exec1-1');
      const unanswered = a.announce('exec1-2');
      a.onAnswer('exec1-1');
      const first = next();
      await first;
      assert.deepEqual(writes, [['exists bull:q:concur-lease:exec1']]);
      const noStop = { aborted: false, onAbort: () => {} };
      assert.equal(await a.answerOf(answered, noStop), true);
      // No lease: the job goes on once the withdrawn mark is read (none here).
      assert.equal(await a.answerOf(unanswered, noStop), true);
    } finally {
      clearInterval(alive);
      a.close();
    }
  });
});
