/**
 * Says what in an answer cannot be serialized (v8's DataCloneError names a value, not
 * where it sits): the first function, symbol or host object found, with its path.
 */
import { serialize } from 'node:v8';

/** What `value` holds that v8 cannot serialize, as "a function callback at .deep[1]"; undefined if nothing is found. */
export function unsendablePart(value: unknown, path = '', seen = new Set<object>()): string | undefined {
  const at = path === '' ? '' : ` at ${path}`;
  if (typeof value === 'function') return `a function ${value.name || '<anonymous>'}${at}`;
  if (typeof value === 'symbol') return `a symbol ${String(value.description ?? '')}${at}`;
  if (value === null || typeof value !== 'object' || seen.has(value)) return undefined;
  seen.add(value);
  const children: [string, unknown][] =
    value instanceof Map ? [...value].map(([k, v], i) => [`.<entry ${i}>`, [k, v]])
    : value instanceof Set ? [...value].map((v, i) => [`.<item ${i}>`, v])
    : Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v])
    : Object.entries(value).map(([k, v]) => [`.${k}`, v]);
  for (const [step, child] of children) {
    const found = unsendablePart(child, path + step, seen);
    if (found !== undefined) return found;
  }
  try {
    serialize(value);
  } catch {
    // Its contents can be sent but it cannot: a host object (a WeakMap, a Promise, a socket…).
    return `a ${Object.prototype.toString.call(value).slice(8, -1)}${at}`;
  }
  return undefined;
}

/** The error that answers a call whose answer `value` could not be serialized (`err`). */
export function unsendableAnswer(op: string, value: unknown, err: unknown): TypeError {
  const part = unsendablePart(value);
  const why = err instanceof Error ? err.message : String(err);
  return new TypeError(`the answer to ${op} cannot be sent across processes: it holds ${part ?? 'a value v8 cannot serialize'} (${why})`, { cause: err });
}
