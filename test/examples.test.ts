// Every program under examples/ runs here (redis-crawler.ts in examples-redis.test.ts), so none of them rots.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';

const run = promisify(execFile);
/** Files of examples/ the tour leaves out: a module others import, and the README's quick start. */
const NOT_IN_TOUR = new Set(['tasks.ts', 'quickstart.ts']);
const example = (name: string): string => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

async function runExample(name: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', example(name), ...args], { timeout: 60_000 });
  return stdout;
}

describe('examples', () => {
  for (const kind of ['process', 'thread']) {
    it(`pools.ts ${kind}: ten tasks, one by one and all at once`, async () => {
      const out = await runExample('pools.ts', kind);
      assert.match(out, /^one by one: 0 1 4 9 16 25 36 49 64 81 in \d+ ms$/m);
      assert.match(out, /^all at once: 0 1 4 9 16 25 36 49 64 81 in \d+ ms$/m);
    });
  }

  it('pipe.ts: a parent and a child talk both ways', async () => {
    const out = await runExample('pipe.ts');
    assert.match(out, /parent got: hello from the child/);
    assert.match(out, /parent got: the child heard: how are you\?/);
    assert.match(out, /parent got: the child heard: what is 6 x 7\?/);
    assert.match(out, /child talker exited with code 0/);
  });

  it('event.ts: three threads wait until a fourth says the server is up', async () => {
    const out = await runExample('event.ts');
    // Each thread's output reaches stdout through its own port, so only the last line's place is fixed.
    const lines = out.trim().split('\n');
    assert.deepEqual(lines.slice(0, 4).sort(), [...['client-1', 'client-2', 'client-3'].map((c) => `${c}: server is up, connecting`), 'server: listening']);
    assert.equal(lines[4], 'all threads done; event set: true');
  });

  it('crawler.ts: the same submit/done-callback code fetches every page on async, thread and process executors', async () => {
    const out = await runExample('crawler.ts');
    for (const kind of ['async', 'thread', 'process']) assert.match(out, new RegExp(`^${kind} +40 pages, 820000 bytes \\(all\\) in \\d+ ms$`, 'm'));
  });

  it('echo-server.ts: one thread answers 500 concurrent clients', async () => {
    const out = await runExample('echo-server.ts', '500', '5');
    assert.match(out, /^500 concurrent clients, 2500 round trips, all answered in upper case, in \d+ ms \(\d+\/s\) on one thread$/m);
  });

  for (const kind of ['processes', 'threads']) {
    it(`producer-consumer.ts ${kind}: a bounded SharedQueue, and taskDone/join`, async () => {
      const out = await runExample('producer-consumer.ts', kind);
      assert.match(out, new RegExp(`^joined: all 300 items processed by ${kind}$`, 'm'));
      assert.match(out, /^sum 44850 \(expected 44850\); queue empty: true$/m);
      const taken = [...out.matchAll(/consumer-\d took (\d+) items/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      assert.equal(taken, 300);
    });
  }

  it('ticket-sale.ts: ten processes oversell without the lock and sell exactly with it', async () => {
    const out = await runExample('ticket-sale.ts', '30', '10');
    const unlocked = /^without a lock: +10 processes sold (\d+) of 30 tickets/m.exec(out);
    assert.ok(unlocked, out);
    assert.ok(Number(unlocked[1]) > 30, `expected an oversale without the lock:\n${out}`);
    assert.match(out, /^with the lock: +10 processes sold 30 of 30 tickets \(30 distinct numbers\): exact$/m);
  });

  it('manager.ts: processes decrement a manager dict; decrements are lost without a lock, none with it', { timeout: 120_000 }, async () => {
    const out = await runExample('manager.ts', '10', '20');
    assert.match(out, /^a manager dict \{ count: 200 \}; 10 processes each decrement it 20 times$/m);
    const unlocked = /^without a lock: count = (\d+)/m.exec(out);
    assert.ok(unlocked, out);
    assert.ok(Number(unlocked[1]) > 0, `expected lost decrements without the lock:\n${out}`);
    assert.match(out, /^with manager\.lock\(\): count = 0 \(exact\)$/m);
  });

  it('speedup.ts: prints the speedup table', async () => {
    const out = await runExample('speedup.ts', '22', '8');
    assert.match(out, /8 x fib\(22\) on \d+ CPUs/);
    assert.match(out, /\| serial +\| +\d+ \| +1\.00x \|/);
    assert.match(out, /\| 2 processes +\| +\d+ \| +\d+\.\d\dx \|/);
  });

  it('mp-pool.ts: the tutorials\' multiprocessing.Pool programs (applyAsync/close/join, get, map, callbacks)', async () => {
    const out = await runExample('mp-pool.ts');
    const visits = [...out.matchAll(/^page (\d+) visited by pid (\d+)$/gm)];
    assert.deepEqual(visits.map((m) => Number(m[1])).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
    assert.ok(new Set(visits.map((m) => m[2])).size <= 4, 'more than 4 workers in a Pool(4)');
    assert.match(out, /^1\. twenty visits done on a pool of 4$/m);
    assert.match(out, /^2\. sizes in submission order: 0 5 10 15 20 25 30 35 40 45$/m);
    assert.match(out, /^3\. map: 0 5 10 15 20 25 30 35 40 45$/m);
    assert.match(out, /^4\. callbacks handled 10 pages as they finished: [\d ]+ \(sum 225\)$/m);
  });

  it('generators.ts: the yield producer/consumer, greenlet switches and gevent.joinall print what the tutorials print', async () => {
    const out = await runExample('generators.ts');
    const produce = Array.from({ length: 5 }, (_, i) => [
      `[PRODUCER] →→ Producing ${i + 1}...`,
      `[CONSUMER] ←← Consuming ${i + 1}...`,
      '[PRODUCER] Consumer return: 200 OK',
    ]).flat();
    const turns = Array.from({ length: 10 }, (_, i) => [`foo: ${i}`, `bar: ${i}`]).flat();
    const gevent = ['running in foo', 'switch to bar', 'switch to foo again', 'switch to bar again'];
    const lines = out.trim().split('\n');
    assert.deepEqual(lines.slice(0, -1), [...produce, '12', '56', '34', '78', ...turns, ...gevent]);
    assert.match(lines.at(-1)!, /^both done in \d+ ms: the longest wait \(100 ms\), not the sum \(140 ms\)$/);
  });

  it('quickstart.ts: the README quick start runs as printed', async () => {
    const out = await runExample('quickstart.ts');
    assert.match(out, /fib\(25\) = 75025/);
    assert.match(out, /map: 1,1,2,3,5,8,13,21/);
    assert.match(out, /as completed: 3 results/);
    assert.match(out, /timed out: TimeoutError/);
    assert.match(out, /crashed: WorkerCrashedError/);
  });

  // Each example runs above; the tour is checked to list every one of them and to run its stops.
  const tour = fileURLToPath(new URL('../scripts/tour.mjs', import.meta.url));
  it('npm start: the tour takes every example program', async () => {
    const { stdout } = await run(process.execPath, [tour, '--list']);
    const inTour = new Set(stdout.trim().split('\n'));
    const programs = readdirSync(fileURLToPath(new URL('../examples/', import.meta.url))).filter((f) => f.endsWith('.ts') && !NOT_IN_TOUR.has(f));
    assert.deepEqual([...inTour].sort(), programs.sort());
  });

  it('npm start: the tour runs its stops and counts them', async () => {
    const { stdout } = await run(process.execPath, [tour, '--only', 'event.ts', 'pipe.ts'], { timeout: 120_000 });
    assert.match(stdout, /server: listening/);
    assert.match(stdout, /parent got: hello from the child/);
    assert.match(stdout, /^2 of 2 scenarios ran\.$/m);
  });
});
