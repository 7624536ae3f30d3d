import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, RLock, Thread } from '../../src/index.js';
import {
  BUF_HEAD,
  BUF_ITEMS,
  BUF_NEXT,
  BUF_TAIL,
  CAPACITY,
  DUPLICATE_ITEM,
  PHASE,
  PROGRESS,
  SHARED_WORDS,
  STRIDE,
  slotWord,
  TAKEOVERS,
  violation,
  violations,
  WAITING,
  words,
} from '../fixtures/sync-torture-layout.js';
import { tortureTasks } from '../fixtures/sync-torture-tasks.js';
import { rng, SATISFIED_STALL_MS, torture, TORTURE_MS } from './sync-harness.js';

describe('torture: Condition', () => {
  it('a bounded buffer on an RLock with two Conditions: 3 producer and 3 consumer threads plus 2 consumer coroutines of the main thread, terminated at random', async () => {
    const slots = 6;
    const lock = new RLock();
    const notEmpty = new Condition(lock);
    const notFull = new Condition(lock);
    const buf = words(BUF_ITEMS + CAPACITY);
    const taken = words(1 << 20);
    const shared = words(SHARED_WORDS);
    const perSlot = words(slots * STRIDE);
    const stop = words(1);
    const all = Array.from({ length: slots }, (_, i) => i);
    const producer = (slot: number): boolean => slot % 2 === 0;
    const word = (i: number, w: number): number => Atomics.load(perSlot, slotWord(i, w));
    const size = (): number => Atomics.load(buf, BUF_TAIL) - Atomics.load(buf, BUF_HEAD);
    // Read from outside the lock (the checks): head and tail only grow, so a head that did
    // not move across the read of the tail was the head at that moment. (Two plain reads
    // could straddle a burst of puts and takes when this thread is preempted between them.)
    const sizeSeen = (): number | undefined => {
      for (let tries = 0; tries < 100; tries++) {
        const head = Atomics.load(buf, BUF_HEAD);
        const tail = Atomics.load(buf, BUF_TAIL);
        if (Atomics.load(buf, BUF_HEAD) === head) return tail - head;
      }
      return undefined;
    };
    let mainTaken = 0;
    const r = await torture({
      what: `Condition torture: ${slots} threads on a bounded buffer`,
      slots,
      words: perSlot,
      runMs: TORTURE_MS,
      killEveryMs: 400,
      start: (slot, seed) =>
        new Thread({ target: tortureTasks.bufferChurn, args: [lock, notEmpty, notFull, buf, taken, producer(slot), shared, perSlot, slot, seed, stop] }).start(),
      check: () => {
        const broken = violations(shared);
        if (broken !== undefined) return broken;
        const n = sizeSeen();
        return n !== undefined && (n < 0 || n > CAPACITY) ? `the buffer holds ${n} items (capacity ${CAPACITY})` : undefined;
      },
      satisfied: (quietMs) => {
      if (quietMs < SATISFIED_STALL_MS) return undefined;
        const n = sizeSeen();
        if (n === undefined) return undefined;
        const consumers = all.filter((i) => !producer(i) && word(i, PHASE) === WAITING);
        const producers = all.filter((i) => producer(i) && word(i, PHASE) === WAITING);
        if (n > 0 && consumers.length > 0) return `${n} item(s) in the buffer and consumers ${consumers.join(',')} wait for one`;
        if (n < CAPACITY && producers.length > 0) return `room in the buffer (${n}/${CAPACITY}) and producers ${producers.join(',')} wait for it`;
        return undefined;
      },
      main: async (running) => {
        const rand = rng(5);
        const consume = async (): Promise<void> => {
          while (running()) {
            await lock.acquire();
            try {
              while (size() === 0 && running()) await notEmpty.wait(rand() < 0.5 ? undefined : 1 + rand() * 20);
              if (size() > 0) {
                const head = Atomics.load(buf, BUF_HEAD);
                const item = Atomics.load(buf, BUF_ITEMS + (head % CAPACITY));
                Atomics.store(buf, BUF_HEAD, head + 1);
                if (Atomics.add(taken, item, 1) !== 0) violation(shared, DUPLICATE_ITEM, -1, item);
                mainTaken++;
                notFull.notify();
              }
            } finally {
              lock.release();
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
        };
        await Promise.all([consume(), consume()]);
      },
      stop: () => Atomics.store(stop, 0, 1),
      unblock: async () => {
        if (!(await lock.acquire({ timeout: 100 }))) return;
        notEmpty.notifyAll();
        notFull.notifyAll();
        lock.release();
      },
      state: () =>
        `buffer head ${Atomics.load(buf, BUF_HEAD)} tail ${Atomics.load(buf, BUF_TAIL)} items made ${Atomics.load(buf, BUF_NEXT)}; ` +
        `lock ${[...lock._state].join(',')}, take-overs ${Atomics.load(shared, TAKEOVERS)}; ` +
        `phases ${all.map((i) => word(i, PHASE)).join(',')}; progress ${all.map((i) => word(i, PROGRESS)).join(',')}`,
    });
    // Every item made was taken once, is still in the buffer, or went with a thread that was terminated holding it.
    const made = Atomics.load(buf, BUF_NEXT);
    const inBuffer = new Set<number>();
    for (let i = Atomics.load(buf, BUF_HEAD); i < Atomics.load(buf, BUF_TAIL); i++) inBuffer.add(Atomics.load(buf, BUF_ITEMS + (i % CAPACITY)));
    let lost = 0;
    for (let item = 1; item <= made; item++) {
      const t = Atomics.load(taken, item);
      assert.ok(t <= 1, `item ${item} taken ${t} times`);
      if (t === 0 && !inBuffer.has(item)) lost++;
    }
    assert.ok(lost <= r.kills, `${lost} items lost, more than the ${r.kills} threads terminated`);
    assert.ok(made > 0 && mainTaken > 0, `items made ${made}, taken by the main thread ${mainTaken}`);
    console.log(`# Condition torture: ${made} items, ${mainTaken} taken by coroutines of the main thread, ${lost} lost with ${r.kills} threads terminated (seed ${r.seed})`);
  });
});
