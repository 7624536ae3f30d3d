#!/usr/bin/env node
// Runs the torture suite (test/torture/*.test.ts, and *.open-bug.ts: tortures that still
// find a bug, kept out of npm test until it is fixed) for about N minutes: round after round,
// each with a new seed, each test of a round driving its primitive for CONCUR_TORTURE_MS.
//
//   npm run torture -- --minutes 30 --hog        30 minutes beside a CPU hog
//   node scripts/torture.mjs --rounds 1 --files test/torture/queue-threads.test.ts
//
// Options:
//   --minutes N    total time (default 5); rounds repeat while another one fits
//   --rounds N     run exactly N rounds instead
//   --test-ms MS   CONCUR_TORTURE_MS for each test (default: that variable, else from
//                  --minutes: a twentieth of the run, 6 s to 60 s)
//   --hog [N]      start N busy-looping processes beside the run (default 1)
//   --files A B…   only these test files
//   --stop         stop at the first failing round
// A failing round prints its seed; CONCUR_TORTURE_SEED=<seed> replays its choices.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function parse(argv) {
  const o = { minutes: 5, rounds: undefined, testMs: undefined, hog: 0, files: [], stop: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name) => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number, got ${JSON.stringify(argv[i])}`);
      return v;
    };
    if (a === '--minutes') o.minutes = num('--minutes');
    else if (a === '--rounds') o.rounds = Math.floor(num('--rounds'));
    else if (a === '--test-ms') o.testMs = num('--test-ms');
    else if (a === '--hog') o.hog = /^\d+$/.test(argv[i + 1] ?? '') ? Number(argv[++i]) : 1;
    else if (a === '--stop') o.stop = true;
    else if (a === '--files') while (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) o.files.push(argv[++i]);
    else throw new Error(`unknown option ${a} (see the top of scripts/torture.mjs)`);
  }
  return o;
}

let opts;
try {
  opts = parse(process.argv.slice(2));
} catch (err) {
  console.error(`torture: ${err.message}`);
  process.exit(2);
}
const files = opts.files.length > 0 ? opts.files : readdirSync('test/torture').filter((f) => f.endsWith('.test.ts') || f.endsWith('.open-bug.ts')).sort().map((f) => join('test/torture', f));
if (files.length === 0) {
  console.error('torture: no test/torture/*.test.ts files');
  process.exit(2);
}
const totalMs = opts.minutes * 60_000;
// Long runs give each test more time per round (fewer process start-ups), short ones less.
const envMs = Number(process.env.CONCUR_TORTURE_MS);
const testMs = opts.testMs ?? (envMs > 0 ? envMs : Math.round(Math.min(60_000, Math.max(6_000, totalMs / 20))));

const hogs = [];
for (let i = 0; i < opts.hog; i++) {
  const hog = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  hogs.push(hog);
}
const stopHogs = () => {
  for (const h of hogs) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
};
process.on('exit', stopHogs);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function runRound(seed) {
  const started = performance.now();
  const env = { ...process.env, CONCUR_TORTURE_MS: String(testMs), CONCUR_TORTURE_SEED: String(seed) };
  // node:test's own timeout only catches what the watchdogs do not: far past a test's run.
  const args = ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${(testMs * 2 + 225_000) * 3}`, ...files];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => resolve({ ok: code === 0, code, signal, out, ms: performance.now() - started }));
  });
}

const summary = (out) =>
  out
    .split('\n')
    .filter((l) => /^# (tests|pass|fail)|^\s*# \d+ rounds|^\s*not ok/.test(l))
    .map((l) => `    ${l.trim()}`)
    .join('\n');

console.log(`torture: ${files.length} files, ${testMs} ms per test, ${opts.rounds !== undefined ? `${opts.rounds} rounds` : `about ${opts.minutes} min`}${opts.hog > 0 ? `, ${opts.hog} CPU hog(s)` : ''}`);
const begin = performance.now();
let rounds = 0;
let failed = 0;
let longest = 0;
for (;;) {
  if (opts.rounds !== undefined ? rounds >= opts.rounds : rounds > 0 && performance.now() - begin + longest > totalMs) break;
  const seed = process.env.CONCUR_TORTURE_SEED !== undefined && rounds === 0 ? Number(process.env.CONCUR_TORTURE_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  const r = await runRound(seed);
  rounds++;
  longest = Math.max(longest, r.ms);
  const at = ((performance.now() - begin) / 60_000).toFixed(1);
  console.log(`round ${rounds} seed ${seed}: ${r.ok ? 'ok' : `FAILED (exit ${r.code ?? r.signal})`} in ${(r.ms / 1000).toFixed(0)} s (${at} min in)`);
  if (!r.ok) {
    failed++;
    console.log(r.out);
    console.log(`replay: CONCUR_TORTURE_SEED=${seed} node scripts/torture.mjs --rounds 1 --test-ms ${testMs} --files ${files.join(' ')}`);
    if (opts.stop) break;
  } else console.log(summary(r.out));
}
const minutes = ((performance.now() - begin) / 60_000).toFixed(1);
console.log(`torture: ${rounds} rounds in ${minutes} min, ${failed} failed${opts.hog > 0 ? ` (beside ${opts.hog} CPU hog(s))` : ''}`);
stopHogs();
process.exit(failed > 0 ? 1 : 0);
