import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REPO, runNode } from '../fixtures/run-node.js';

const HOOK = new URL('../fixtures/record-loads.mjs', import.meta.url).href;
const BUILT = existsSync(fileURLToPath(new URL('../../dist/redis/index.js', import.meta.url)));

/** The node_modules packages a program importing `specifier` (by the package's own name) loaded. */
async function packagesLoadedBy(specifier: string): Promise<string[]> {
  const program = `await import(${JSON.stringify(specifier)}); const urls = await globalThis.loadedModules(); console.log(JSON.stringify([...new Set(urls.map((u) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(u)?.[1]).filter(Boolean))]));`;
  const run = await runNode(['--import', HOOK, '--input-type=module', '-e', program], { cwd: REPO });
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as string[];
}

describe('the concur/redis subpath', { skip: BUILT ? false : 'dist/ is not built: run npm run build' }, () => {
  it("importing 'concur' never loads bullmq or ioredis; importing 'concur/redis' does", async () => {
    const plain = await packagesLoadedBy('concur');
    assert.ok(!plain.includes('bullmq') && !plain.includes('ioredis'), `concur loaded ${plain.join(', ')}`);
    const redis = await packagesLoadedBy('concur/redis');
    assert.ok(redis.includes('bullmq') && redis.includes('ioredis'), `concur/redis loaded only ${redis.join(', ')}`);
  });
});
