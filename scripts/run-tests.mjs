#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner under tsx. Node 20's --test
// takes no globs, so the files are listed here.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}
const given = process.argv.length > 2;
const files = given ? process.argv.slice(2) : find('test').sort();
// A test that hangs fails by name after two minutes instead of stalling the run.
// Each torture test drives its primitive for 2 s here (a smoke run that still finds
// the bugs it was written for); `npm run torture` runs them for minutes.
// The Manager's fuzz test sends 100,000 frames here; CONCUR_FUZZ_FRAMES=1000000 for the full run.
const env = {
  ...process.env,
  CONCUR_TORTURE_MS: process.env.CONCUR_TORTURE_MS ?? '2000',
  CONCUR_FUZZ_FRAMES: process.env.CONCUR_FUZZ_FRAMES ?? '100000',
};
const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000'];

// Primitives cross into processes as shared memory where the native part is built, as
// proxies where it is not: these files run a second time without it, beside the rest.
const BOTH_WAYS = ['test/processes/shared-memory.test.ts', 'test/processes/shared-memory-deaths.test.ts', 'test/manager/lanes.test.ts', 'test/sync/locations.test.ts', 'test/proxy/dead-holders.test.ts', 'test/torture/process-lock.test.ts', 'test/proxy/killed-barrier-waiter.test.ts', 'test/queues/killed-consumer.test.ts'];
const fallback = given || env.CONCUR_NO_NATIVE === '1' ? [] : BOTH_WAYS;

function run(list, extraEnv, output) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, ...list], { stdio: ['inherit', output, output], env: { ...env, ...extraEnv } });
    let text = '';
    if (output === 'pipe') {
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
    }
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 1 : 0), text }));
  });
}

const [main, second] = await Promise.all([
  run(files, {}, 'inherit'),
  fallback.length > 0 ? run(fallback, { CONCUR_NO_NATIVE: '1' }, 'pipe') : Promise.resolve({ status: 0, text: '' }),
]);
if (fallback.length > 0) {
  console.log(`\n# again without the native part (CONCUR_NO_NATIVE=1): ${fallback.join(' ')}`);
  process.stdout.write(second.text);
}
process.exit(main.status !== 0 ? main.status : second.status);
