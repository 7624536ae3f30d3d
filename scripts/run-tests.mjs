#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner under tsx. Node 20's --test
// takes no globs, so the files are listed here.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}
const files = process.argv.length > 2 ? process.argv.slice(2) : find('test').sort();
// A test that hangs fails by name after two minutes instead of stalling the run.
// Each torture test drives its primitive for 2 s here (a smoke run that still finds
// the bugs it was written for); `npm run torture` runs them for minutes.
// The Manager's fuzz test sends 100,000 frames here; CONCUR_FUZZ_FRAMES=1000000 for the full run.
const env = {
  ...process.env,
  CONCUR_TORTURE_MS: process.env.CONCUR_TORTURE_MS ?? '2000',
  CONCUR_FUZZ_FRAMES: process.env.CONCUR_FUZZ_FRAMES ?? '100000',
};
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
