#!/usr/bin/env node
// Builds concur's native part (src/native/shm.cc: shared memory and futex waits) with
// node-gyp when the package installs. It is optional: where it cannot build (another
// OS or CPU, no compiler, no Node headers) concur runs on its pure-TypeScript fallback,
// so a failure here is reported and the install goes on.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

if (process.platform !== 'linux' || process.arch !== 'x64' || process.env.CONCUR_NO_NATIVE === '1') {
  console.log('concur: native shared memory skipped on this platform; using the fallback');
  process.exit(0);
}

/** node-gyp as npm ships it (npm sets npm_config_node_gyp), else one on PATH. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    const npmDir = dirname(createRequire(import.meta.url).resolve('npm/package.json'));
    candidates.push(join(npmDir, 'node_modules/node-gyp/bin/node-gyp.js'));
  } catch {}
  candidates.push(join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'));
  return candidates.find((c) => c && existsSync(c));
}

const gyp = nodeGyp();
const args = ['rebuild', '--release', '--loglevel=error'];
// The headers that came with Node itself, so no download is needed.
const headers = join(dirname(process.execPath), '..');
if (existsSync(join(headers, 'include/node/node.h'))) args.push(`--nodedir=${headers}`);
const r = gyp === undefined ? { status: 1, error: new Error('node-gyp not found') } : spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' });
if (r.status !== 0) {
  console.warn(`concur: the native part did not build (${r.error?.message ?? `node-gyp exited ${r.status}`}); shared primitives will cross into processes as proxies`);
}
process.exit(0);
