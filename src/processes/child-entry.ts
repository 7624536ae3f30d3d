/**
 * The entry of every concur child process: a process-pool worker or a Process.
 * It learns what to be from its first IPC message, so nothing of the user's runs
 * before it knows it is a child (and isMain() is false).
 */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { writeSync } from 'node:fs';
import { inspect } from 'node:util';
import { isNativeError } from 'node:util/types';
import { markChildProcess } from '../tasks/main-guard.js';
import type { FunctionSpec } from '../tasks/describe.js';
import { WorkerRuntime, type WorkerInit } from '../pool/worker-runtime.js';
import { CTRL_RUNNING, CTRL_SEQ, CTRL_SLOTS } from '../transport/protocol.js';
import { dieWithParent } from './lifecycle.js';
import { claimDaemonic, STATUS_FD, type ChildInit } from './spawn.js';
import { pipesFlushed, routePipeMessages } from './dehydrate.js'; // also registers how a relayed Pipe end is rebuilt here
import { revive } from './revive.js';
import { directStdio, installDirectStdio } from '../threads/direct-stdio.js';
import { runTarget } from './run-target.js';
import { reviveRunnable } from '../util/runnable.js';
import '../proxy/proxies.js'; // registers the proxies a primitive becomes here
import { raiseMallocThresholds } from '../util/allocator.js';
import { sendingData } from '../sync/views.js';
import { crossingsMapped } from '../sync/shm-crossing.js';

markChildProcess();
claimDaemonic();
// What a child prints is written at once, as Python's print: on a pipe, Node writes stdout
// and stderr asynchronously once the pipe is full, and the child's exit (after its target,
// a pool worker's SIGKILL at shutdown, a process.exit()) dropped what the pipe had not taken.
installDirectStdio(directStdio());
void raiseMallocThresholds();
const watching = dieWithParent(Number(process.env.CONCUR_PARENT_PID));
delete process.env.CONCUR_PARENT_PID;

const ctrl = new Int32Array(CTRL_SLOTS);
// Runs on process.exit() and on an uncaught error: tell the parent which task we were in.
process.on('exit', () => {
  try {
    writeSync(STATUS_FD, JSON.stringify({ seq: ctrl[CTRL_SEQ], running: ctrl[CTRL_RUNNING] }));
  } catch {
    // the parent is gone or did not ask; nothing to tell
  }
});

routePipeMessages();
process.once('message', (msg: { $concurInit?: ChildInit }) => {
  const init = msg.$concurInit;
  if (init === undefined) throw new Error('concur child: the first message was not its init');
  // A pool worker started into a queue of tasks warms its task loop before it says it is
  // ready (beside the watchdog's boot, where that watchdog is a Worker).
  const runtime = init.kind === 'pool' ? newPoolRuntime((init.init as WorkerInit).warmUp === true) : undefined;
  // Heard from now: a pool that shuts down before this worker is ready sends STOP already.
  if (runtime !== undefined) process.on('message', runtime.onMessage);
  // Work starts once the watchdog thread has booted (see dieWithParent).
  void watching.then(() => {
    if (init.kind === 'pool') void runtime!.start(init.init as WorkerInit);
    else void runProcess(init.target as FunctionSpec, init.args, init.name, init.daemon, init.fields);
  });
});

function newPoolRuntime(warmUp: boolean): WorkerRuntime {
  const runtime = new WorkerRuntime(
    {
      send: (message) => {
        sendingData(message, (m) => process.send!(m));
      },
      // What its tasks sent down a Pipe leaves first.
      exit: () => void pipesFlushed().then(() => process.exit(0)),
    },
    ctrl,
  );
  if (warmUp) runtime.warmUp();
  return runtime;
}

async function runProcess(target: FunctionSpec, args: unknown[], name: string, daemon: boolean, fields: string[] | undefined): Promise<void> {
  ctrl[CTRL_RUNNING] = 1;
  // A subclass that overrides run(): rebuild the instance and run that.
  const instance = fields && ((cls: Function, values: unknown[]) => reviveRunnable('Process', cls, name, daemon, fields, values));
  let code = 0;
  try {
    await runTarget(target, () => revive(args), instance);
  } catch (error) {
    // Reported, not left uncaught: an uncaught error ends the process before what the
    // target sent down a Pipe has left it. As Python prints "Process NAME:" and the
    // traceback; what is not an Error is named as a Thread names it.
    code = 1;
    try {
      if (error instanceof Error || isNativeError(error)) console.error(`Process ${name}:\n${inspect(error)}`);
      else console.error(`Exception in process ${name}:`, error);
    } catch {
      console.error(`Process ${name}: an error that cannot be shown`); // its inspection threw
    }
  }
  ctrl[CTRL_RUNNING] = 0;
  // A Process ends when its target (and its non-daemon children) are done, whatever it
  // left scheduled, as in Python; what it sent down a Pipe leaves first, and the
  // memory of the primitives in it waits for their receivers to map it (up to a bound),
  // whether the target returned or threw.
  await pipesFlushed();
  await crossingsMapped();
  // A target that returned leaves the code it set in process.exitCode (Node's graceful
  // sys.exit(n)); one that threw exits 1, as in Python.
  // (No argument at all: process.exit(undefined) clears process.exitCode.)
  if (code === 0) process.exit();
  else process.exit(code);
}
