// Scenario 4: producers and consumers over a bounded SharedQueue, then the
// JoinableQueue form with taskDone/join. Between processes (the default: the queue
// lives here and the children reach it through proxies) or between threads (`threads`:
// they share its memory). The code of the workers is the same either way.
import { defineTasks, isMain, Process, SharedQueue, Thread, Value } from 'concur';

export const work = defineTasks(import.meta.url, {
  produce(q: SharedQueue<number>, name: string, from: number, count: number): void {
    for (let i = from; i < from + count; i++) q.putSync(i); // blocks while the queue is full
    console.log(`${name} put ${count} items`);
  },
  consume(q: SharedQueue<number>, name: string, total: Value<'i32'>): void {
    let taken = 0;
    let sum = 0;
    for (;;) {
      const item = q.getSync();
      if (item === -1) break; // the stop sign
      sum += item;
      taken++;
      q.taskDone();
    }
    const lock = total.getLock();
    lock.acquireSync();
    total.value += sum;
    lock.release();
    q.taskDone();
    console.log(`${name} took ${taken} items`);
  },
});

if (isMain()) {
  const Kind = process.argv[2] === 'threads' ? Thread : Process;
  const q = new SharedQueue<number>({ maxsize: 8 }); // bounded: producers wait for room
  const total = new Value('i32', 0);
  const consumers = ['consumer-1', 'consumer-2'].map((name) => new Kind({ target: work.consume, args: [q, name, total], name }).start());
  const producers = [0, 1, 2].map((k) => new Kind({ target: work.produce, args: [q, `producer-${k + 1}`, k * 100, 100] }).start());
  await Promise.all(producers.map((p) => p.join()));
  await q.join(); // every item put has been marked done by a consumer
  console.log(`joined: all ${300} items processed by ${Kind === Thread ? 'threads' : 'processes'}`);
  for (const _ of consumers) await q.put(-1);
  await Promise.all(consumers.map((c) => c.join()));
  console.log(`sum ${total.value} (expected ${(299 * 300) / 2}); queue empty: ${q.empty()}`);
}
