/**
 * The operations of a manager's containers (dict, list, namespace, value), run in its
 * server's broker thread. What a container takes in is counted (a proxy inside it keeps
 * its object alive), what it lets go of is released, and what goes out to a caller is
 * counted for that caller first.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe } from '../futures/future.js';
import type { Caller } from '../proxy/callers.js';
import { contain, out, uncontain, type Op } from './entries.js';

function put(map: Map<unknown, unknown>, key: unknown, value: unknown): void {
  contain(value);
  if (map.has(key)) uncontain(map.get(key));
  map.set(key, value);
}

/** Takes `value` out of a container for `caller`: counted for the caller before the container lets go. */
function takeOut(caller: Caller, value: unknown): unknown {
  out(caller, value);
  uncontain(value);
  return value;
}

export const DICT: Record<string, Op> = {
  get: (m: Map<unknown, unknown>, [k], caller) => out(caller, m.get(k)),
  set: (m: Map<unknown, unknown>, [k, v]) => void put(m, k, v),
  has: (m: Map<unknown, unknown>, [k]) => m.has(k),
  delete: (m: Map<unknown, unknown>, [k]) => {
    if (!m.has(k)) return false;
    uncontain(m.get(k));
    return m.delete(k);
  },
  size: (m: Map<unknown, unknown>) => m.size,
  keys: (m: Map<unknown, unknown>, _a, caller) => out(caller, [...m.keys()]),
  values: (m: Map<unknown, unknown>, _a, caller) => out(caller, [...m.values()]),
  entries: (m: Map<unknown, unknown>, _a, caller) => out(caller, [...m.entries()]),
  update: (m: Map<unknown, unknown>, [entries]) => {
    for (const [k, v] of entries as Array<[unknown, unknown]>) put(m, k, v);
  },
  pop: (m: Map<unknown, unknown>, [k, hasDefault, dflt], caller) => {
    if (m.has(k)) {
      const v = m.get(k);
      m.delete(k);
      return takeOut(caller, v);
    }
    if (hasDefault) return dflt;
    throw new RangeError(`key ${describe(k)} is not in the dict`);
  },
  setdefault: (m: Map<unknown, unknown>, [k, dflt], caller) => {
    if (!m.has(k)) put(m, k, dflt);
    return out(caller, m.get(k));
  },
  clear: (m: Map<unknown, unknown>) => {
    uncontain(m);
    m.clear();
  },
  copy: (m: Map<unknown, unknown>, _a, caller) => out(caller, new Map(m)),
};

/** A list index, Python's way: negative counts from the end; out of range is a RangeError. */
function indexIn(a: unknown[], i: unknown, what: string): number {
  if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
  const j = (i as number) < 0 ? a.length + (i as number) : (i as number);
  if (j < 0 || j >= a.length) throw new RangeError(`${what} index ${i} out of range (length ${a.length})`);
  return j;
}

const firstEqual = (a: unknown[], v: unknown, from = 0): number => {
  for (let i = Math.max(0, from < 0 ? a.length + from : from); i < a.length; i++) if (isDeepStrictEqual(a[i], v)) return i;
  return -1;
};

export const LIST: Record<string, Op> = {
  length: (a: unknown[]) => a.length,
  at: (a: unknown[], [i], caller) => {
    if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
    return out(caller, a.at(i));
  },
  set: (a: unknown[], [i, v]) => {
    const j = indexIn(a, i, 'assignment');
    contain(v);
    uncontain(a[j]);
    a[j] = v;
  },
  push: (a: unknown[], [items]) => {
    contain(items);
    a.push(...(items as unknown[]));
    return a.length;
  },
  insert: (a: unknown[], [i, v]) => {
    if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
    const j = Math.min(a.length, Math.max(0, i < 0 ? a.length + i : i));
    contain(v);
    a.splice(j, 0, v);
  },
  pop: (a: unknown[], [i], caller) => {
    if (a.length === 0) throw new RangeError('pop from an empty list');
    const j = indexIn(a, i ?? -1, 'pop');
    return takeOut(caller, a.splice(j, 1)[0]);
  },
  remove: (a: unknown[], [v]) => {
    const j = firstEqual(a, v);
    if (j < 0) throw new RangeError(`${describe(v)} is not in the list`);
    uncontain(a.splice(j, 1)[0]);
  },
  indexOf: (a: unknown[], [v, from]) => firstEqual(a, v, from ?? 0),
  count: (a: unknown[], [v]) => a.reduce((n: number, x) => (isDeepStrictEqual(x, v) ? n + 1 : n), 0),
  slice: (a: unknown[], [start, end], caller) => out(caller, a.slice(start, end)),
  clear: (a: unknown[]) => {
    uncontain(a);
    a.length = 0;
  },
};

export const NAMESPACE: Record<string, Op> = {
  get: (m: Map<string, unknown>, [name], caller) => out(caller, m.get(name)),
  set: (m: Map<string, unknown>, [name, v]) => void put(m, name, v),
  delete: (m: Map<string, unknown>, [name]) => DICT.delete!(m, [name], undefined as never, undefined as never),
  has: (m: Map<string, unknown>, [name]) => m.has(name),
  names: (m: Map<string, unknown>) => [...m.keys()],
  /** [value] when the name is set, [] when not (a property's descriptor needs both). */
  lookup: (m: Map<string, unknown>, [name], caller) => (m.has(name) ? out(caller, [m.get(name)]) : []),
  entries: (m: Map<string, unknown>, _a, caller) => out(caller, [...m.entries()]),
};

export const VALUE: Record<string, Op> = {
  get: (box: { v: unknown }, _a, caller) => out(caller, box.v),
  set: (box: { v: unknown }, [v]) => {
    contain(v);
    uncontain(box.v);
    box.v = v;
  },
};

/** What the server's main thread shares: the manager itself, which makes and counts objects. */
