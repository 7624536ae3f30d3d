/**
 * A program whose project has no tsx installed, run by a tsx from elsewhere (a global
 * install, npx's cache): its TypeScript task modules must load on worker threads too,
 * which do not inherit the main thread's loader hooks. The project is a copy in a temp
 * folder with the built concur copied (not linked: a link would lead back to this
 * repository, where tsx is installed) into its node_modules.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, runNode, type NodeRun } from '../fixtures/run-node.js';

const TSX_BIN = join(REPO, 'node_modules/.bin/tsx');
const TSX_LOADER = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
let project: string;

before(() => {
  project = mkdtempSync(join(tmpdir(), 'concur-tsx-outside-'));
  const concur = join(project, 'node_modules/concur');
  mkdirSync(concur, { recursive: true });
  cpSync(join(REPO, 'dist'), join(concur, 'dist'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(concur, 'package.json'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'no-tsx-here', type: 'module' }));
  cpSync(join(REPO, 'test/fixtures/outside-tsx/main.ts'), join(project, 'main.ts'));
  cpSync(join(REPO, 'test/fixtures/outside-tsx/tasks.ts'), join(project, 'tasks.ts'));
  // The point of the test: nothing from the project's folder up finds a tsx.
  assert.throws(() => createRequire(join(project, 'main.ts')).resolve('tsx'), { code: 'MODULE_NOT_FOUND' });
});

after(() => rmSync(project, { recursive: true, force: true }));

function check(run: NodeRun): void {
  const why = `exit ${run.code} signal ${run.signal}${run.timedOut ? ' (timed out)' : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  const line = /^RESULT (.*)$/m.exec(run.stdout);
  assert.ok(line, why);
  assert.deepEqual(JSON.parse(line[1]!), { threadPool: [42, true], processPool: 10, threadExit: 0 }, why);
  assert.equal(run.code, 0, why);
}

const T = { timeout: 60_000 };
const env = { ...process.env, NODE_OPTIONS: '' };

test('the tsx command from outside the project (its path, as a global tsx or npx runs it)', T, async () => {
  check(await runNode(['main.ts'], { command: TSX_BIN, cwd: project, env }));
});

test('node --import <a tsx outside the project> main.ts', T, async () => {
  check(await runNode(['--import', TSX_LOADER, 'main.ts'], { cwd: project, env }));
});

test('NODE_OPTIONS="--import=<a tsx outside the project>" node main.ts', T, async () => {
  check(await runNode(['main.ts'], { cwd: project, env: { ...process.env, NODE_OPTIONS: `--import=${TSX_LOADER}` } }));
});
