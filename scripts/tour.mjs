#!/usr/bin/env node
// `npm start`: a tour of the DESIGN.md scenarios that exist, each run as its own
// program (examples/), with nothing to install. Prints what each shows.
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const stops = [
  ['1. Pools: ten tasks on a pool of four, one by one and all at once (process pool)', 'pools.ts', ['process']],
  ['2. The crawler: the same submit/done-callback code on three executors', 'crawler.ts', []],
  ['2. The same crawler through Redis: a RedisExecutor, two RedisWorkers sharing the pages', 'redis-crawler.ts', [], { redis: true }],
  ['3. Ticket sale: ten processes sell from one JSON file, without and with a Lock', 'ticket-sale.ts', []],
  ['4. Producer/consumer over a bounded SharedQueue, and taskDone/join (between processes)', 'producer-consumer.ts', ['processes']],
  ['4. The same, between threads', 'producer-consumer.ts', ['threads']],
  ['5. A manager dict decremented by 10 processes at once (100 with no arguments), without and with manager.lock()', 'manager.ts', ['10', '20']],
  ['6. Echo server: one thread serving 500 concurrent TCP clients', 'echo-server.ts', ['500', '20']],
  ['7. Event: three threads wait until a fourth says the server is up', 'event.ts', []],
  ['8. Pipe: a parent and a child process talk both ways', 'pipe.ts', []],
  ['9. CPU-bound speedup: a process pool against serial', 'speedup.ts', ['30', '16']],
  ['multiprocessing.Pool as the tutorials use it: applyAsync, close/join, get, map, callbacks', 'mp-pool.ts', []],
  ['Coroutines from Python: yield with send, greenlet switches, gevent.joinall', 'generators.ts', ['100']],
];
// --list prints the example files the tour runs; --only A B… runs just those stops (the
// test suite runs every example on its own, and checks the tour's list against examples/).
const argv = process.argv.slice(2);
if (argv[0] === '--list') {
  console.log([...new Set(stops.map((s) => s[1]))].join('\n'));
  process.exit(0);
}
const only = argv[0] === '--only' ? new Set(argv.slice(1)) : undefined;
const chosen = only ? stops.filter((s) => only.has(s[1])) : stops;
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** True when something at REDIS_URL answers a PING (an auth error is an answer too). */
function redisAnswers() {
  let url;
  try {
    url = new URL(REDIS_URL);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = connect(Number(url.port || 6379), url.hostname || '127.0.0.1');
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d[0] === 0x2b || d[0] === 0x2d)); // '+PONG' or '-NOAUTH ...'
  });
}

let failed = 0;
let skipped = 0;
for (const [title, file, args, needs] of chosen) {
  console.log(`\n== ${title}\n   (examples/${file})`);
  if (needs?.redis && !(await redisAnswers())) {
    console.log(`   skipped: no Redis answers at ${REDIS_URL}. Start one (redis-server, or docker run -p 6379:6379 redis) or set REDIS_URL, and run this stop again.`);
    skipped++;
    continue;
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', here(`../examples/${file}`), ...args], { encoding: 'utf8', timeout: 120_000 });
  const text = `${r.stdout}${r.status === 0 ? '' : r.stderr}`.trim();
  console.log(text.split('\n').map((l) => `   ${l}`).join('\n'));
  if (r.status !== 0) failed++;
}
console.log(`${chosen.length - failed - skipped} of ${chosen.length} scenarios ran${skipped ? ` (${skipped} skipped: no Redis)` : ''}.`);
process.exitCode = failed ? 1 : 0;
