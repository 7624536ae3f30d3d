/** The entry of a Thread: run the target with its arguments, then end. */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { workerData } from 'node:worker_threads';
import type { FunctionSpec } from '../tasks/describe.js';
import { loadFunction } from '../tasks/load.js';
import '../sync/all-shared.js';
import '../proxy/proxies.js';
import { settle } from '../proxy/client.js';
import { reviveInThread } from '../transport/crossing.js';

const { target, args } = workerData as { target: FunctionSpec; args: unknown[] };
const fn = await loadFunction(target);
await fn(...reviveInThread(args));
await settle(); // what it put into a queue of another process lands first
// A Thread ends when its target returns, as in Python, even if it left ports open.
process.exit(0);
