/**
 * Says which argument could not be cloned on its way to a worker, a thread or a child
 * process, and what it is: v8's DataCloneError names a value (quoting a function's whole
 * source), not where it sat. Used by the pools (pool/item.ts cloneError), Process and
 * Thread (util/run-args.ts) and the Manager's proxies.
 */

/** `err`, the clone's failure, as "DataCloneError: function f could not be cloned" (no source quoted). */
export function cloneReason(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${withoutSource(err.message)}` : String(err);
}

/**
 * The first of `args` that `clone` refuses, as `name(i)` and what it is ("argument 1
 * (function <anonymous>)"); undefined if each clones alone (then it was the whole list,
 * or a transfer list). Runs only after a failed send, so the clones cost nothing otherwise.
 */
export function uncloneableArg(args: readonly unknown[], name: (i: number) => string, clone: (value: unknown) => unknown = structuredClone): string | undefined {
  const found = findUncloneable(args, clone);
  return found && `${name(found.index)} (${found.what})`;
}

/** The index of the first of `args` that `clone` refuses, and what it is (describeArg); undefined if none is. */
export function findUncloneable(args: readonly unknown[], clone: (value: unknown) => unknown = structuredClone): { index: number; what: string } | undefined {
  for (let i = 0; i < args.length; i++) {
    try {
      clone(args[i]);
    } catch {
      return { index: i, what: describeArg(args[i]) };
    }
  }
  return undefined;
}

/** What a value is, for a message: "function f", "Socket", "symbol". */
export function describeArg(value: unknown): string {
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (value !== null && typeof value === 'object') {
    const tag = Object.prototype.toString.call(value).slice(8, -1);
    if (tag !== 'Object') return tag;
    try {
      // A class instance (a Socket, a stream) is named by its class: "Object" says nothing.
      const name: unknown = Object.getPrototypeOf(value)?.constructor?.name;
      if (typeof name === 'string' && name !== '') return name;
    } catch {
      // a Proxy whose traps throw
    }
    return tag;
  }
  return typeof value;
}

/**
 * V8's DataCloneError for a function quotes the function's whole source (a Node
 * internal's, for a socket's method): the name says which it was.
 */
function withoutSource(message: string): string {
  const named = message.replace(/^(?:async\s+)?function\*?\s*([\w$]*)\s*\([^]*?could not be cloned\.?$/, (_, name: string) => `function ${name || '<anonymous>'} could not be cloned`);
  // Any other source over lines (an arrow function's): its first line says enough.
  const nl = named.indexOf('\n');
  return nl < 0 || !/could not be cloned\.?$/.test(named) ? named : `${named.slice(0, Math.min(nl, 80))} ... could not be cloned`;
}
