/**
 * Argument checks of a Process or Thread at start(), in the words the pools use: which
 * argument (or subclass field), what it is, and whose.
 */
import { specName } from '../tasks/describe.js';
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

