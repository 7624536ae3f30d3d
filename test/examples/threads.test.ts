// The examples on threads and coroutines, and the tour (`npm start`), run here, so none of
// them rots; the process examples in processes.test.ts, the Redis one in redis.test.ts.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { NOT_IN_TOUR, run, runExample, tour } from './run-example.js';

describe('examples: threads, coroutines and the tour', () => {
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

  // Each example runs in one of these files; the tour is checked to list every one of them and to run its stops.

  it('npm start: the tour takes every example program', async () => {
    const { stdout } = await run(process.execPath, [tour, '--list']);
    const inTour = new Set(stdout.trim().split('\n'));
    const programs = readdirSync(fileURLToPath(new URL('../../examples/', import.meta.url))).filter((f) => f.endsWith('.ts') && !NOT_IN_TOUR.has(f));
    assert.deepEqual([...inTour].sort(), programs.sort());
  });

  it('npm start: the tour runs its stops and counts them', async () => {
    const { stdout } = await run(process.execPath, [tour, '--only', 'event.ts', 'pipe.ts'], { timeout: 120_000 });
    assert.match(stdout, /server: listening/);
    assert.match(stdout, /parent got: hello from the child/);
    assert.match(stdout, /^2 of 2 scenarios ran\.$/m);
  });
});
