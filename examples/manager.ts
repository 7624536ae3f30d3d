// Scenario 5: a dict in a Manager's server, decremented by many processes at once.
// Each decrement is a read (`d.get`) and a write (`d.set`): two round trips to the
// server. Without a lock, two processes read the same count and both write it back
// less one, so decrements are lost and the count ends above zero; with a lock from
// the same manager, each read-and-write is whole and the count ends at exactly 0.
import { defineTasks, isMain, Manager, Process, type Barrier, type DictProxy, type Lock } from 'concur';

export const counters = defineTasks(import.meta.url, {
  decrement(d: DictProxy<number>, times: number, start: Barrier, lock: Lock | null): void {
    start.waitSync(); // every process begins at once, so their calls interleave
    for (let i = 0; i < times; i++) {
      lock?.acquireSync();
      try {
        d.set('count', d.get('count')! - 1);
      } finally {
        lock?.release();
      }
    }
  },
});

async function run(manager: Manager, processes: number, times: number, withLock: boolean): Promise<number> {
  const d = manager.dict<number>({ count: processes * times });
  const start = manager.barrier(processes);
  const lock = withLock ? manager.lock() : null;
  const procs = Array.from({ length: processes }, () => new Process({ target: counters.decrement, args: [d, times, start, lock] }).start());
  await Promise.all(procs.map((p) => p.join()));
  const failed = procs.filter((p) => p.exitCode !== 0).length;
  if (failed > 0) throw new Error(`${failed} processes failed`);
  return d.get('count')!;
}

if (isMain()) {
  const processes = Number(process.argv[2] ?? 100);
  const times = Number(process.argv[3] ?? 10);
  await using manager = await Manager.start();
  console.log(`a manager dict { count: ${processes * times} }; ${processes} processes each decrement it ${times} times`);
  const unlocked = await run(manager, processes, times, false);
  console.log(`without a lock: count = ${unlocked} (${unlocked === 0 ? 'no decrement lost this time' : `${unlocked} decrements lost`})`);
  const locked = await run(manager, processes, times, true);
  console.log(`with manager.lock(): count = ${locked}${locked === 0 ? ' (exact)' : ' (WRONG)'}`);
}
