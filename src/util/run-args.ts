/**
 * Argument checks of a Process or Thread at start(), in the words the pools use: which
 * argument (or subclass field), what it is, and whose.
 */
import { specName } from '../tasks/describe.js';
import { cloneReason, uncloneableArg } from '../transport/clone-error.js';
import { checkArgsNested } from '../transport/nested.js';
import type { RunSpec } from './runnable.js';

/** How a message names argument `i` of `spec` ("argument 0", or a subclass's `field "x"`). */
const argName = (spec: RunSpec) => (i: number): string => (spec.fields !== undefined ? `field "${spec.fields[i]}"` : `argument ${i}`);

/** Whose arguments they are: "Process target f (module)", "Thread subclass C (module)". */
const owner = (kind: 'Process' | 'Thread', spec: RunSpec): string => `${kind} ${spec.fields !== undefined ? 'subclass' : 'target'} ${specName(spec.target)}`;

/** Throws a TypeError naming the first argument that holds a primitive, a proxy or a Pipe end deeper than its top level. */
export function checkRunArgs(kind: 'Process' | 'Thread', spec: RunSpec): void {
  checkArgsNested(spec.args, argName(spec), owner(kind, spec));
}

/**
 * What start() throws when the child's or thread's start message could not be cloned
 * (`err`): which argument (`sent`, as it was sent, probed one by one with `clone`), what
 * it is and whose, as the pools say it. `err` itself when no single argument is to blame.
 */
export function runCloneError(kind: 'Process' | 'Thread', spec: RunSpec, sent: readonly unknown[], err: unknown, clone?: (value: unknown) => unknown): unknown {
  const which = uncloneableArg(sent, argName(spec), clone);
  if (which === undefined) return err;
  const into = kind === 'Process' ? 'a child process' : 'a thread';
  return new TypeError(`${which} of ${owner(kind, spec)} cannot be sent to ${into}: ${cloneReason(err)}`, { cause: err });
}
