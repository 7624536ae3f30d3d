// `concur map` and `concur manager --register` load TypeScript modules as the pools and
// `concur worker` do: with the tsx found from the module or the working directory, though
// the command itself runs as compiled JavaScript.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DIST } from '../fixtures/run-node.js';
import { concur, start } from './run-concur.js';

/** A folder with a TypeScript task module `tasks.ts` (type annotations and all) importing concur's build. */
function tsModule(): { dir: string; module: string } {
  const dir = mkdtempSync(join(tmpdir(), 'concur-cli-ts-'));
  const module = join(dir, 'tasks.ts');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'cli-ts-tasks', type: 'module' }));
  writeFileSync(
    module,
    `import { defineTasks } from ${JSON.stringify(DIST)};\n` +
      `interface Box { n: number; add(by: number): number }\n` +
      `export const tasks = defineTasks(import.meta.url, {\n` +
      `  square(x: number): number {\n    return x * x;\n  },\n` +
      `  Box(n: number): Box {\n    return { n, add(by: number): number { this.n += by; return this.n; } };\n  },\n});\n`,
  );
  return { dir, module };
}

describe('the concur command and TypeScript modules', () => {
  it('concur map runs a task of a .ts module', { timeout: 60_000 }, async () => {
    const { dir, module } = tsModule();
    try {
      const run = await concur(['map', `${module}#square`, '--range', '1..4', '--pool', 'thread']);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(
        run.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown),
        [{ line: 1, result: 1 }, { line: 2, result: 4 }, { line: 3, result: 9 }],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('concur manager --register takes a .ts module', { timeout: 60_000 }, async () => {
    const { dir, module } = tsModule();
    writeFileSync(join(dir, 'key'), 'k\n');
    const run = start(['manager', '--address', '127.0.0.1:0', '--authkey-file', join(dir, 'key'), '--register', module], { timeoutMs: 50_000 });
    try {
      await new Promise<void>((resolve, reject) => {
        const look = setInterval(() => {
          if (/listening at .*; types: square, Box/.test(run.stdout())) {
            clearInterval(look);
            resolve();
          }
        }, 50);
        void run.ended.then((r) => {
          clearInterval(look);
          reject(new Error(`ended before listening: ${r.stderr}`));
        });
      });
    } finally {
      run.child.kill('SIGTERM');
      await run.ended;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
