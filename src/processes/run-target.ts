import type { FunctionSpec } from '../tasks/describe.js';
import { loadFunction } from '../tasks/load.js';
import { INLINE_HINT } from '../pool/worker-runtime.js';
import { settle } from '../proxy/client.js';
import { joinChildren } from '../util/runnable.js';

/**
 * Runs the target of a Process (in its child) or of a Thread (in its worker), as Python's
 * BaseProcess._bootstrap runs `run()`: the caller ends the process or thread once this
 * settles, rejected with the target's error if it threw.
 *
 * - It is alive while its target runs, even while the target awaits a promise that never
 *   settles: a thread's event loop would otherwise empty and end it, where a Python
 *   thread blocked forever stays alive.
 * - What the target put into a queue of another process has landed when this settles.
 * - Then, as a Python process whose main code has ended, it waits for the non-daemon
 *   Processes and Threads it started (whether the target returned or threw); its daemons
 *   are stopped by the exit that follows.
 * - An inline target that fails on a variable from around it gets the hint a pool task gets.
 */
export async function runTarget(spec: FunctionSpec, args: () => unknown[], instance?: (cls: Function, values: unknown[]) => { run(): unknown }): Promise<void> {
  const alive = setInterval(() => {}, 2 ** 31 - 1);
  let failure: { error: unknown } | undefined;
  try {
    const fn = await loadFunction(spec);
    if (instance !== undefined) await instance(fn, args()).run(); // a subclass: spec names it, args are its fields
    else await fn(...args());
  } catch (error) {
    failure = { error: withInlineHint(error, spec) };
  }
  try {
    await settle();
  } catch (error) {
    failure ??= { error }; // a put that failed fails the target, unless it failed first
  }
  await joinChildren();
  clearInterval(alive);
  if (failure !== undefined) throw failure.error;
}

function withInlineHint(error: unknown, spec: FunctionSpec): unknown {
  if (!(error instanceof ReferenceError) || spec.kind !== 'inline') return error;
  try {
    // Read first: V8 formats the stack when it is first read, from the message then.
    const { message, stack } = error;
    error.message = message + INLINE_HINT;
    // The stack is what an uncaught error prints.
    if (typeof stack === 'string') error.stack = stack.replace(message, error.message);
  } catch {
    // a frozen error keeps its own message
  }
  return error;
}
