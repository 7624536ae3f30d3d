/**
 * Arguments that cross into a child process as markers (a Pipe end, a shared
 * primitive's proxy) are turned back into live objects here. Each kind registers a
 * reviver; everything else passes through unchanged.
 */
import { reviveShared } from '../sync/shared.js';

type Reviver = (marker: Record<string, unknown>) => unknown;
const revivers = new Map<string, Reviver>();

/** Registers how to rebuild arguments marked `{ $concur: kind }`. */
export function registerReviver(kind: string, reviver: Reviver): void {
  revivers.set(kind, reviver);
}

/** Rebuilds marked arguments at the top level of the argument list, and proxies of shared primitives anywhere in it. */
export function revive(args: unknown[]): unknown[] {
  return args.map((a) => {
    if (a !== null && typeof a === 'object' && typeof (a as { $concur?: unknown }).$concur === 'string') {
      const r = revivers.get((a as { $concur: string }).$concur);
      if (r) return r(a as Record<string, unknown>);
    }
    return reviveShared(a);
  });
}
