// Scenario 4 (between threads for now): producers and consumers over a bounded
// SharedQueue, then the JoinableQueue form with taskDone/join.
import { defineTasks, isMain, SharedQueue, Thread } from 'concur';

export const work = defineTasks(import.meta.url, {
  produce(q: SharedQueue<number>, name: string, from: number, count: number): void {
    for (let i = from; i < from + count; i++) q.putSync(i); // blocks while the queue is full
    console.log(`${name} put ${count} items`);
  },
  consume(q: SharedQueue<number>, name: string, total: Int32Array): void {
    let taken = 0;
    for (;;) {
      const item = q.getSync();
      if (item === -1) break; // the stop sign
      Atomics.add(total, 0, item);
      taken++;
      q.taskDone();
    }
    q.taskDone();
    console.log(`${name} took ${taken} items`);
  },
});

if (isMain()) {
  const q = new SharedQueue<number>({ maxsize: 8 }); // bounded: producers wait for room
  const total = new Int32Array(new SharedArrayBuffer(4));
  const consumers = ['consumer-1', 'consumer-2'].map((name) => new Thread({ target: work.consume, args: [q, name, total], name }).start());
  const producers = [0, 1, 2].map((k) => new Thread({ target: work.produce, args: [q, `producer-${k + 1}`, k * 100, 100] }).start());
  await Promise.all(producers.map((p) => p.join()));
  await q.join(); // every item put has been marked done by a consumer
  console.log(`joined: all ${300} items processed, sum ${Atomics.load(total, 0)} (expected ${(299 * 300) / 2})`);
  for (const _ of consumers) await q.put(-1);
  await Promise.all(consumers.map((c) => c.join()));
  console.log(`queue empty: ${q.empty()}`);
}
