#!/usr/bin/env node
// tsc writes the type declarations to dist/; this writes the JavaScript: the entry points
// as esbuild bundles that share chunks under dist/chunks/. Node's ESM loader pays per
// module file, so concur in ~40 files cost ~17 ms to import, in every worker too; as a
// few files it costs a fraction. Shared chunks keep one copy of each class, so
// `instanceof` holds across the entries. Every entry imports src/index.ts, so esbuild
// puts the whole library in one chunk (it splits by which entries reach a module):
// a worker loads its entry and that chunk, ~2 ms less than seven smaller chunks, and a
// task module's `import ... from 'concur'` finds it already loaded.
import { build } from 'esbuild';

await build({
  entryPoints: {
    index: 'src/index.ts',
    'threads/worker-entry': 'src/threads/worker-entry.ts',
    'threads/thread-entry': 'src/threads/thread-entry.ts',
    'processes/child-entry': 'src/processes/child-entry.ts',
    'proxy/broker-entry': 'src/proxy/broker-entry.ts',
    'proxy/client-entry': 'src/proxy/client-entry.ts',
    'cli/main': 'src/cli/main.ts',
    'cli/cli-tasks': 'src/cli/cli-tasks.ts',
    'redis/index': 'src/redis/index.ts',
    'redis/job-task': 'src/redis/job-task.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  logLevel: 'warning',
  // the CLI's and concur/redis's own dependencies stay in node_modules
  external: ['commander', 'cli-progress', 'bullmq', 'ioredis'],
});
