#!/usr/bin/env node
// Scenario 6 under load: concur's one-thread echo server (examples/echo-server.ts)
// and, when Debian's python3-gevent is installed, the seeds' gevent server, each
// driven by bench/echo-load.mjs in turn, alternating, repeated.
//
//   node bench/echo.mjs [clients=500] [seconds=10] [rounds=3]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const [clients = 500, seconds = 10, rounds = 3] = process.argv.slice(2).map(Number);
const gevent = spawnSync('/usr/bin/python3', ['-c', 'import gevent'], { encoding: 'utf8' }).status === 0;

const servers = { concur: [process.execPath, ['--import', 'tsx', here('../examples/echo-server.ts'), '--serve']] };
if (gevent) servers.gevent = ['/usr/bin/python3', [here('./python/gevent_echo.py')]];
else console.log('python3-gevent is not installed (apt-get install python3-gevent): only concur runs.');

async function measure(name) {
  const [cmd, args] = servers[name];
  const server = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => createInterface({ input: server.stdout }).once('line', resolve));
  try {
    const out = execFileSync(process.execPath, [here('./echo-load.mjs'), port, String(clients), String(seconds)], { encoding: 'utf8', timeout: (seconds + 120) * 1000 });
    return { server: name, ...JSON.parse(out) };
  } finally {
    server.kill('SIGKILL');
  }
}

const results = [];
for (let r = 0; r < rounds; r++) {
  const names = Object.keys(servers);
  for (const name of r % 2 ? names.reverse() : names) results.push(await measure(name));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`\n${clients} clients, 16-byte ping-pong, ${seconds} s, median of ${rounds}\n`);
console.log('| server | round trips/s | p50 us | p99 us | errors |');
console.log('|--------|--------------:|-------:|-------:|-------:|');
const rows = {};
for (const name of Object.keys(servers)) {
  const mine = results.filter((x) => x.server === name);
  rows[name] = { rps: median(mine.map((x) => x.roundTripsPerSec)), p50: median(mine.map((x) => x.p50Us)), p99: median(mine.map((x) => x.p99Us)), errors: mine.reduce((s, x) => s + x.errors, 0) };
  const row = rows[name];
  console.log(`| ${name} | ${Math.round(row.rps).toLocaleString('en-US')} | ${row.p50} | ${row.p99} | ${row.errors} |`);
}
if (rows.gevent) console.log(`\nconcur / gevent round trips/s: ${(rows.concur.rps / rows.gevent.rps).toFixed(2)}x`);
