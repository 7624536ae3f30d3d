// Scenario 3: ten processes sell tickets from one JSON file. Each sale reads the
// count, takes a moment, and writes it back less one. Without a lock the processes
// read the same count and sell the same ticket twice; with a Lock (created here, and
// shared by every child: as the same memory on Linux x64, else through a proxy) each
// read-and-write is whole, and none oversells.
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Barrier, defineTasks, isMain, Lock, Process } from 'concur';

const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export const office = defineTasks(import.meta.url, {
  seller(dir: string, name: string, start: Barrier, lock: Lock | null): void {
    start.waitSync(); // every seller opens at once
    for (;;) {
      lock?.acquireSync();
      try {
        const { tickets } = JSON.parse(readFileSync(join(dir, 'tickets.json'), 'utf8')) as { tickets: number };
        if (tickets <= 0) return;
        pause(1); // printing the ticket
        // Written whole and renamed into place, so a reader never sees half a file.
        writeFileSync(join(dir, `${name}.tmp`), JSON.stringify({ tickets: tickets - 1 }));
        renameSync(join(dir, `${name}.tmp`), join(dir, 'tickets.json'));
        appendFileSync(join(dir, 'sales.log'), `${name} sold ticket ${tickets}\n`);
      } finally {
        lock?.release();
      }
    }
  },
});

async function sale(tickets: number, sellers: number, withLock: boolean): Promise<{ sold: number; distinct: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tickets-'));
  try {
    writeFileSync(join(dir, 'tickets.json'), JSON.stringify({ tickets }));
    writeFileSync(join(dir, 'sales.log'), '');
    const start = new Barrier(sellers);
    const lock = withLock ? new Lock() : null;
    const procs = Array.from({ length: sellers }, (_, i) => new Process({ target: office.seller, args: [dir, `seller-${i + 1}`, start, lock] }).start());
    await Promise.all(procs.map((p) => p.join()));
    const failed = procs.filter((p) => p.exitCode !== 0);
    if (failed.length > 0) throw new Error(`${failed.length} sellers failed`);
    const lines = readFileSync(join(dir, 'sales.log'), 'utf8').trim().split('\n').filter(Boolean);
    return { sold: lines.length, distinct: new Set(lines.map((l) => l.split(' ').pop())).size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain()) {
  const tickets = Number(process.argv[2] ?? 50);
  const sellers = Number(process.argv[3] ?? 10);
  for (const withLock of [false, true]) {
    const { sold, distinct } = await sale(tickets, sellers, withLock);
    const verdict = sold > tickets ? `oversold by ${sold - tickets}` : sold === tickets ? 'exact' : `undersold by ${tickets - sold}`;
    console.log(`${withLock ? 'with the lock:   ' : 'without a lock:  '} ${sellers} processes sold ${sold} of ${tickets} tickets (${distinct} distinct numbers): ${verdict}`);
  }
}
