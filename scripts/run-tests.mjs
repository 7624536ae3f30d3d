#!/usr/bin/env node
// Runs every test/**/*.test.ts (or the files given) with node's test runner, from
// JavaScript: src/ and test/ are first transpiled file by file into a mirror folder, and
// the tests run there with plain node. Under tsx every test process, child process and
// worker thread paid for tsx and for compiling concur's sources again (~0.85 CPU-s a child,
// ~0.9 a thread: Node 20 gives each worker that registers tsx a hooks thread of its own),
// which made the suite twice as slow as its tests. The TypeScript stays the source of
// truth: `npm test` has typechecked it before this runs, and the inline source maps make
// stacks name the .ts lines. Node 20's --test takes no globs, so the files are listed here.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function find(dir, keep) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name), keep) : keep(e.name) ? [join(dir, e.name)] : [],
  );
}
const argv = process.argv.slice(2);
// `--typecheck` (npm test): tsc checks the tests, examples and benches beside the test
// passes rather than before them, on the core a waiting test leaves idle (~17 CPU-s,
// all on one core); its failure fails the run, with tsc's output at the end.
const typecheck = argv[0] === '--typecheck';
if (typecheck) argv.shift();
const given = argv.length > 0;
// Files that take long but mostly wait (on Redis leases, handshake timeouts, dead peers
// noticed, children that exit) begin first, longest first, so that none of them starts
// near the end and runs on alone. Measured one file at a time, 2026-12-01:
// each took 10 to 28 s, using a third of that in CPU or less. The files that take long by
// computing stay where they sort: started together beside tsc and the other passes, they
// took more than the 120 s each file has. Since (2026-12-02): start-cut-off.test.ts and
// condition-dead-waiter.test.ts lost the ~12 s and ~10 s their processes stayed open after
// their last test (an uncleared timer); the first (~14 s now, at load 13 to 21) moved down,
// placed by estimate, not by a new measurement of the others; the second (~3.5 s) left the
// list.
const SLOW_FIRST = [
  'test/manager/lifetime.test.ts',
  'test/proxy/hostile-peers.test.ts',
  'test/redis/worker.test.ts',
  'test/processes/load-deaths.test.ts',
  'test/proxy/caller-timeout.test.ts',
  'test/manager/containers.test.ts',
  'test/redis/start-cut-off.test.ts',
  'test/proxy/late-broker.test.ts',
  'test/redis/results.test.ts',
  'test/manager/thread-crossing.test.ts',
];
const slowness = (f) => (SLOW_FIRST.includes(f) ? SLOW_FIRST.indexOf(f) : SLOW_FIRST.length);
const files = given ? argv : find('test', (n) => n.endsWith('.test.ts')).sort().sort((a, b) => slowness(a) - slowness(b));
// A test that hangs fails by name after two minutes instead of stalling the run.
// Each torture test drives its primitive for 2 s here (a smoke run that still finds
// the bugs it was written for); `npm run torture` runs them for minutes.
// The Manager's fuzz test sends 100,000 frames here; CONCUR_FUZZ_FRAMES=1000000 for the full run.
const env = {
  ...process.env,
  CONCUR_TORTURE_MS: process.env.CONCUR_TORTURE_MS ?? '2000',
  CONCUR_FUZZ_FRAMES: process.env.CONCUR_FUZZ_FRAMES ?? '100000',
};
// Files at once in the main pass. Most files mostly wait (on children, timers, Redis), so
// 3 keep the 2 cores busier than 2 did: a whole `npm test` took 6.3 to 8.5 min at 2; at 3,
// 4.4 min on a quiet machine and 5.7 to 5.8 at load 9 to 10 (2026-12-01). test/manager/hostile-fuzz.test.ts failed at 3-4 until the broker took
// turns between connections (src/proxy/read-frames.ts): a flood ran at a stretch and
// starved another client's pings. CONCUR_TEST_CONCURRENCY overrides it.
const CONCURRENCY = Number(process.env.CONCUR_TEST_CONCURRENCY ?? 3);
const testArgs = (n) => ['--test', `--test-concurrency=${n}`, '--test-timeout=120000'];

// Primitives cross into processes as shared memory where the native part is built, as
// proxies where it is not (and a stopped thread's children are reaped only with it):
// these files run a second time without it, beside the rest.
const BOTH_WAYS = ['test/processes/shared-memory.test.ts', 'test/processes/orphans.test.ts', 'test/processes/pool-left-children.test.ts', 'test/threads/terminate-children.test.ts', 'test/processes/shared-memory-deaths.test.ts', 'test/manager/lanes.test.ts', 'test/manager/lanes-deaths.test.ts', 'test/sync/locations.test.ts', 'test/proxy/dead-holders.test.ts', 'test/torture/process-lock.test.ts', 'test/proxy/killed-barrier-waiter.test.ts', 'test/queues/killed-consumer.test.ts'];
const fallback = given || env.CONCUR_NO_NATIVE === '1' ? [] : BOTH_WAYS;

// concur run from its .ts sources finds tsx for its children (src/processes/spawn.ts)
// and threads (src/threads/bootstrap.ts, src/util/tsx-loader.ts), as a user's program under
// tsx importing concur's sources would: these files, whose programs and pools start
// processes, threads and proxy threads, still run from TypeScript under tsx to test that.
const FROM_SOURCE = ['test/processes/bootstrapping.test.ts', 'test/threads/bootstrapping.test.ts', 'test/proxy/socket-path.test.ts', 'test/tasks/tasks.test.ts'];

// A file renamed would otherwise quietly drop out of these lists.
for (const f of [...BOTH_WAYS, ...FROM_SOURCE, ...SLOW_FIRST]) if (!existsSync(join(ROOT, f))) throw new Error(`scripts/run-tests.mjs names ${f}, which is not there`);

// The mirror: one folder per run (removed at its end), so that two runs in one checkout
// never see each other's files and a stale mirror cannot be run. Transpiling ~400 files
// takes under a second on an idle machine, a few at load 15.
const MIRRORS = join(ROOT, 'build', 'test-js');
const MIRROR = join(MIRRORS, String(process.pid));

/** Transpiles TypeScript file by file (no bundling) for node 20; stacks name the .ts file and line (node runs with --enable-source-maps). */
function transpile(options) {
  return build({ bundle: false, format: 'esm', platform: 'node', target: 'node20', sourcemap: 'inline', sourcesContent: false, logLevel: 'warning', ...options });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

async function makeMirror() {
  mkdirSync(MIRRORS, { recursive: true });
  for (const e of readdirSync(MIRRORS)) if (!/^\d+$/.test(e) || !alive(Number(e))) rmSync(join(MIRRORS, e), { recursive: true, force: true });
  // Programs written as a user writes them stay as they are (tsx runs the .ts ones): the
  // compiled package's fixtures, the project that runs a tsx from elsewhere, the .mjs.
  const verbatim = (f) => /^test\/fixtures\/(compiled|outside-tsx)\//.test(relative(ROOT, f)) || !f.endsWith('.ts') || f.endsWith('.d.ts');
  const all = [...find(join(ROOT, 'src'), (n) => n.endsWith('.ts')), ...find(join(ROOT, 'test'), () => true)];
  const ts = all.filter((f) => !verbatim(f));
  await transpile({ entryPoints: ts, outdir: MIRROR, outbase: ROOT });
  // Linked, not copied: node loads a module from its real path, so these load from test/
  // (and name their tasks by test/fixtures/x.mjs) whether imported from here or there.
  for (const f of all.filter(verbatim)) {
    const to = join(MIRROR, relative(ROOT, f));
    mkdirSync(dirname(to), { recursive: true });
    symlinkSync(f, to);
  }
  // The examples as JavaScript beside the mirror (test/examples/run-example.ts runs these):
  // under tsx each of their child processes paid ~1 CPU-s for tsx, and ticket-sale.ts and
  // manager.ts start twenty each (the examples' test files: ~115 -> ~42 CPU-s). The tour's tests
  // still run event.ts and pipe.ts under tsx, as the README says to, with a thread and a
  // child process of their own. `import ... from 'concur'` resolves here as in examples/:
  // the package's own name, from the nearest package.json.
  await transpile({ entryPoints: find(join(ROOT, 'examples'), (n) => n.endsWith('.ts')), outdir: join(MIRROR, 'examples-js') });
  // What tests and their fixtures reach by relative path from test/: the built package,
  // the command, the examples and the tour, all as they are in the checkout.
  for (const d of ['dist', 'bin', 'examples', 'scripts']) symlinkSync(join('..', '..', '..', d), join(MIRROR, d));
  // src/sync/shm.ts looks for build/Release/concur_shm.node up to three folders above itself.
  mkdirSync(join(MIRROR, 'build'));
  symlinkSync(join('..', '..', '..', 'Release'), join(MIRROR, 'build', 'Release'));
}

/** The mirror's file for test/x.test.ts (given relative to the working directory or absolute). */
function mirrored(file) {
  const rel = relative(ROOT, resolve(file));
  if (rel.startsWith('..') || !rel.endsWith('.ts')) return file;
  return join(MIRROR, rel.replace(/\.ts$/, '.js'));
}

// Stopped, the runs are stopped too, and the mirror is removed once they have ended.
const runs = new Set();
process.on('exit', () => rmSync(MIRROR, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => (runs.size === 0 ? process.exit(130) : runs.forEach((c) => c.kill(sig))));
}
const started = performance.now();
// Started before the mirror is made, which it does not read: tsc takes longest of all.
const checked = typecheck ? runTsc() : Promise.resolve({ status: 0, text: '' });
await makeMirror();
console.log(`# transpiled src/ and test/ into ${relative(ROOT, MIRROR)} in ${Math.round(performance.now() - started)} ms`);

/** tsc on tsconfig.check.json (against the declarations the build wrote to dist/). */
function runTsc() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return run([tsc, '-p', join(ROOT, 'tsconfig.check.json')], [], {}, 'pipe', true).then((r) => {
    if (r.status !== 0) console.error('# the typecheck (tsc -p tsconfig.check.json) failed: its output follows the tests');
    return r;
  });
}

const isFromSource = (f) => FROM_SOURCE.includes(relative(ROOT, resolve(f)));
const fromJs = files.filter((f) => !isFromSource(f)).map(mirrored);
const fromTs = files.filter(isFromSource);

function run(args, list, extraEnv, output, always = false) {
  return new Promise((resolve) => {
    if (list.length === 0 && !always) return resolve({ status: 0, text: '' });
    const piped = output === 'tee' ? 'pipe' : output;
    const child = spawn(process.execPath, [...args, ...list], { stdio: ['inherit', piped, piped], env: { ...env, ...extraEnv } });
    runs.add(child);
    let text = '';
    if (output === 'pipe' || output === 'tee') {
      child.stdout.on('data', (d) => ((text += d), output === 'tee' && process.stdout.write(d)));
      child.stderr.on('data', (d) => ((text += d), output === 'tee' && process.stderr.write(d)));
    }
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 1 : 0), text }));
  });
}

// The two short passes run one file at a time beside the main pass: they are done long
// before it, and every file more at once slows the ones already running.
const JS = ['--enable-source-maps'];
const TS = ['--import', 'tsx'];
const TIMES = join(MIRROR, 'file-times.jsonl');
const timesReporter = ['--test-reporter=tap', '--test-reporter-destination=stdout', `--test-reporter=${join(ROOT, 'scripts', 'test-times.mjs')}`, '--test-reporter-destination=stderr'];
const [main, sourced, second] = await Promise.all([
  run([...JS, ...testArgs(CONCURRENCY), ...timesReporter], fromJs, { CONCUR_TEST_TIMES: TIMES }, 'tee'),
  run([...TS, ...testArgs(1)], fromTs, {}, 'pipe'),
  run([...JS, ...testArgs(1)], fallback.map(mirrored), { CONCUR_NO_NATIVE: '1' }, 'pipe'),
]);
if (fromTs.length > 0) {
  console.log(`\n# from the TypeScript sources under tsx: ${fromTs.join(' ')}`);
  process.stdout.write(sourced.text);
}
if (fallback.length > 0) {
  console.log(`\n# again without the native part (CONCUR_NO_NATIVE=1): ${fallback.join(' ')}`);
  process.stdout.write(second.text);
}
const tscResult = await checked;
if (typecheck) {
  console.log(`\n# typecheck (tsc -p tsconfig.check.json): ${tscResult.status === 0 ? 'passed' : 'FAILED'}`);
  process.stdout.write(tscResult.text);
}
// Where the main pass's time went, for whoever keeps the suite short.
if (existsSync(TIMES)) {
  const perFile = new Map();
  for (const line of readFileSync(TIMES, 'utf8').split('\n').filter(Boolean)) {
    const { file, ms } = JSON.parse(line);
    perFile.set(file, (perFile.get(file) ?? 0) + ms);
  }
  const times = [...perFile].map(([file, ms]) => ({ file, ms })).sort((a, b) => b.ms - a.ms);
  // Reported by the source map's file (test/x.test.ts) or the mirror's (build/test-js/N/test/x.test.js).
  const name = (f) => relative(f.startsWith(MIRROR) ? MIRROR : ROOT, f).replace(/\.js$/, '.ts');
  console.log(`\n# slowest files of the main pass (their tests' time, summed; ${Math.round((performance.now() - started) / 1000)} s in all):`);
  for (const t of times.slice(0, 12)) console.log(`#   ${(t.ms / 1000).toFixed(1).padStart(6)} s  ${name(t.file)}`);
}
// A log shown only by its tail (a CI page) still names what failed, and where.
const failures = [['main pass', main], ['under tsx', sourced], ['without the native part', second]].flatMap(([pass, r]) => failedTests(r.text).map((f) => `# failed (${pass}): ${f}`));
if (failures.length > 0) console.log(`\n# ${failures.length} failed:\n${failures.join('\n')}`);
process.exit([main, sourced, second, tscResult].find((r) => r.status !== 0)?.status ?? 0);

/** Each failing test of a TAP log, in a few lines: name, location, error (a suite failed only by its subtests is left out: they are listed). */
function failedTests(tap) {
  const lines = tap.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
    if (!m) continue;
    const block = [];
    for (let j = i + 1; j < lines.length && lines[j].trim() !== '...'; j++) block.push(lines[j].trim());
    if (block.some((l) => l === "failureType: 'subtestsFailed'")) continue;
    const field = (k) => {
      const at = block.findIndex((l) => l.startsWith(`${k}: `));
      if (at < 0) return undefined;
      const value = block[at].slice(k.length + 2);
      if (value !== '|-') return value;
      const rest = block.slice(at + 1);
      const end = rest.findIndex((l) => /^[a-zA-Z]+: /.test(l) || l === 'stack: |-');
      return rest.slice(0, end < 0 ? rest.length : end).slice(0, 6).join('\n#   ');
    };
    const stack = block.slice(block.indexOf('stack: |-') + 1).slice(0, 3);
    out.push([m[2], field('location'), field('failureType'), field('error'), ...(block.includes('stack: |-') ? stack : [])].filter(Boolean).join('\n#   '));
  }
  return out;
}
