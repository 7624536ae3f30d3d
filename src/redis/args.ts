/** What may not travel through Redis as a task argument, found before it is sent. */
import { kindOf } from '../sync/shared.js';
import { Connection } from '../transport/pipe.js';

const MAX_DEPTH = 32;

/**
 * Describes the first argument (or part of one) that lives in this machine's memory or
 * carries an authkey: a Lock, Event, Value, SharedQueue… (shared memory), a proxy of one
 * (which holds its owner's address and authkey), or a Pipe end. Undefined if none.
 */
export function localOnly(args: readonly unknown[]): string | undefined {
  const seen = new Set<object>();
  for (let i = 0; i < args.length; i++) {
    const found = visit(args[i], `argument ${i}`, 0, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

function visit(value: unknown, path: string, depth: number, seen: Set<object>): string | undefined {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || seen.has(value)) return undefined;
  seen.add(value);
  const kind = kindOf(value);
  if (kind !== undefined) {
    return kind.startsWith('Remote')
      ? `${path} is a proxy (${kind.slice('Remote'.length)}), which carries its owner's address and authkey: proxies are refused as Redis job arguments`
      : `${path} is a ${kind}, which lives in this machine's memory: a Redis worker on another machine cannot share it`;
  }
  if (value instanceof Connection) return `${path} is a Pipe end, which cannot cross to another machine`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = visit(value[i], `${path}[${i}]`, depth + 1, seen);
      if (found !== undefined) return found;
    }
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      const found = visit(k, `${path} (a Map key)`, depth + 1, seen) ?? visit(v, `${path}.get(${String(k)})`, depth + 1, seen);
      if (found !== undefined) return found;
    }
  } else if (value instanceof Set) {
    for (const v of value) {
      const found = visit(v, `${path} (a Set member)`, depth + 1, seen);
      if (found !== undefined) return found;
    }
  } else if (!ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    for (const key of Object.keys(value)) {
      const found = visit((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, seen);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
