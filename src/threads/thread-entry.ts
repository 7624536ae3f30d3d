/** The entry of a Thread: run the target with its arguments, then end. */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { workerData } from 'node:worker_threads';
import type { FunctionSpec } from '../tasks/describe.js';
import '../sync/all-shared.js';
import '../proxy/proxies.js';
import { runTarget } from '../processes/run-target.js';
import { reviveInThread } from '../transport/crossing.js';
import { currentThread, setUpThread } from './current-thread.js';
import { reviveRunnable, stopDaemons } from '../util/runnable.js';

setUpThread();

const { target, args, fields, daemon } = workerData as { target: FunctionSpec; args: unknown[]; fields?: string[]; daemon: boolean };
// A subclass that overrides run(): rebuild the instance and run that.
const instance = fields && ((cls: Function, values: unknown[]) => reviveRunnable('Thread', cls, currentThread().name, daemon, fields, values));
let failure: { error: unknown } | undefined;
try {
  await runTarget(target, () => reviveInThread(args), instance);
} catch (error) {
  failure = { error };
}
// Its daemons end with it, and are reaped while this thread's event loop still runs.
await stopDaemons();
// A rejection is uncaught: the parent prints it and the exit code is 1.
if (failure !== undefined) throw failure.error;
// A Thread ends when its target (and its non-daemon children) are done, even if it left
// ports open, as a Python thread does.
process.exit(0);
