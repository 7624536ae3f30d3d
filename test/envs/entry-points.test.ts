/**
 * Pools and Threads used from programs that have no file: `node -e`/`--eval` (both
 * input types), a script read from stdin, and the REPL. Each program submits inline
 * functions (what such a program can submit) and prints one RESULT line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, runNode, type NodeRun } from '../fixtures/run-node.js';

// The statements after the import, valid both in a module and in an async function.
const BODY = `
console.log('TOP ' + process.pid);
const t = new ThreadPoolExecutor({ maxWorkers: 2 });
const p = new ProcessPoolExecutor({ maxWorkers: 1 });
const sums = await Promise.all([1, 2, 3].map((i) => t.submit((a, b) => a + b, i, 10).result()));
const childPid = await p.submit(() => process.pid).result();
const th = new Thread({ target: (x) => { if (x !== 7) throw new Error('bad argument ' + x); }, args: [7] }).start();
await th.join();
await t.shutdown();
await p.shutdown();
console.log('RESULT ' + JSON.stringify({ sums, childPid, threadExit: th.exitCode }));
`;
const IMPORTS = 'ThreadPoolExecutor, ProcessPoolExecutor, Thread';
const ESM = `import { ${IMPORTS} } from ${JSON.stringify(DIST)};\n${BODY}`;
const CJS = `(async () => {\nconst { ${IMPORTS} } = await import(${JSON.stringify(DIST)});\n${BODY}\n})().catch((e) => { console.error(e); process.exit(1); });`;

function check(run: NodeRun): void {
  const why = `exit ${run.code} signal ${run.signal}${run.timedOut ? ' (timed out)' : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  assert.equal(run.timedOut, false, why);
  const tops = [...run.stdout.matchAll(/^TOP (\d+)$/gm)];
  // A child or a worker that ran the program's own code again would print TOP again.
  assert.equal(tops.length, 1, why);
  const line = /^RESULT (.*)$/m.exec(run.stdout);
  assert.ok(line, why);
  const result = JSON.parse(line[1]!) as { sums: number[]; childPid: number; threadExit: number };
  assert.deepEqual(result.sums, [11, 12, 13], why);
  assert.notEqual(result.childPid, Number(tops[0]![1]), why);
  assert.equal(result.threadExit, 0, why);
  assert.equal(run.code, 0, why);
}

const T = { timeout: 40_000 };

test('a pool works from node -e (CommonJS)', T, async () => check(await runNode(['-e', CJS])));
// Node's fork() drops `-e code` from a child's flags but not `--eval=code`: a child ran the program again, and so on.
test('a pool works from node --eval=... (CommonJS)', T, async () => check(await runNode([`--eval=${CJS}`], { timeoutMs: 15_000 })));
test('a pool works from node --input-type=commonjs -p', T, async () => check(await runNode(['--input-type=commonjs', '-p', CJS])));
test('a pool works from node --input-type=module -e', T, async () => check(await runNode(['--input-type=module', '-e', ESM])));
test('a pool works from node --input-type module --eval', T, async () => check(await runNode(['--input-type', 'module', '--eval', ESM])));
test('a pool works from a module script on stdin (node --input-type=module < script)', T, async () =>
  check(await runNode(['--input-type=module'], { input: ESM })));
test('a pool works from a CommonJS script on stdin (node < script)', T, async () => check(await runNode([], { input: CJS })));
test('a pool works from a script on stdin named by "-" (node --input-type=module -)', T, async () =>
  check(await runNode(['--input-type=module', '-'], { input: ESM })));

test('a pool works from the REPL (node -i, driven through stdin)', T, async () => {
  // The REPL runs each line as it comes: the program is one line, and `.exit` goes only
  // once it has printed its result (or failed).
  const program = CJS.replace(/\n/g, ' ');
  const run = await runNode(['-i'], {
    input: program + '\n',
    endInputWhen: /^(RESULT|Uncaught|Error)/m,
    endInput: '.exit\n',
    env: { ...process.env, NODE_NO_READLINE: '1', NODE_REPL_HISTORY: '' },
  });
  check({ ...run, stdout: run.stdout.replace(/^(> )+/gm, '') });
});
