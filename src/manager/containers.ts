/**
 * The operations of a manager's containers (dict, list, namespace, value), run in its
 * server's broker thread. What a container takes in is counted (a proxy inside it keeps
 * its object alive), what it lets go of is released, and what a call returns is
 * counted for its caller by ManagedObject.call (entries.ts), on every path.
 */
import { inspect, isDeepStrictEqual } from 'node:util';
import { describe } from '../futures/future.js';
import { contain, state, takeOut, token, uncontain, uncontainEach, type Op } from './entries.js';
import { managedRefOf } from './refs.js';

/** An object key, named for an error: its kind and a short look at it. */
const objectKey = (key: object): string => {
  const shown = inspect(key, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 20 });
  return `an object of type ${Object.prototype.toString.call(key).slice(8, -1)} (${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown})`;
};

/**
 * A dict's key as its Map holds it. A primitive is itself. A proxy of this manager is
 * its object's one proxy (the entry's own): every call's key is a fresh copy, so copies
 * of the same proxy must meet at one key. Any other object is refused, as Python refuses
 * an unhashable key: a copy of it, made anew by each call, could never be found again.
 */
export function dictKey(key: unknown): unknown {
  if (key === null || (typeof key !== 'object' && typeof key !== 'function')) return key;
  const ref = managedRefOf(key);
  const entry = ref !== undefined && ref.mgr === token() ? state.entries.get(ref.id) : undefined;
  if (entry !== undefined) return entry.proxy;
  throw new TypeError(
    `a dict key must be a string, number, bigint, boolean, null, undefined or a proxy of this manager, got ${ref === undefined ? objectKey(key) : ref.mgr === token() ? 'a proxy of an object this manager has freed' : "a proxy of another manager's object"}: ` +
      'each call sends a copy of the key, and a copy of an object is never the same key again (Python refuses such keys as unhashable)',
  );
}

/** Sets `key` to `value`: a new key is counted as the value is (a proxy may be a key). */
function put(map: Map<unknown, unknown>, key: unknown, value: unknown): void {
  contain(value);
  if (map.has(key)) uncontain(map.get(key));
  else contain(key);
  map.set(key, value);
}

/** Removes `key`, releasing it and its value; the value, for a caller to take out. */
function remove(map: Map<unknown, unknown>, key: unknown): unknown {
  const v = map.get(key);
  map.delete(key);
  uncontain(key);
  return v;
}

/** `entries` as [key, value] pairs, each checked: anything else is a TypeError naming it, as Python refuses it. */
export function pairsOf(entries: unknown, what: string): Array<[unknown, unknown]> {
  if (!Array.isArray(entries)) throw new TypeError(`${what} takes [key, value] pairs, got ${describe(entries)}`);
  entries.forEach((e, i) => {
    if (!Array.isArray(e) || e.length !== 2) throw new TypeError(`${what} takes [key, value] pairs: entry ${i} is ${describe(e)}`);
  });
  return entries as Array<[unknown, unknown]>;
}

export const DICT: Record<string, Op> = {
  get: (m: Map<unknown, unknown>, [k]) => m.get(dictKey(k)),
  set: (m: Map<unknown, unknown>, [k, v]) => void put(m, dictKey(k), v),
  has: (m: Map<unknown, unknown>, [k]) => m.has(dictKey(k)),
  delete: (m: Map<unknown, unknown>, [key]) => {
    const k = dictKey(key);
    if (!m.has(k)) return false;
    uncontain(remove(m, k));
    return true;
  },
  size: (m: Map<unknown, unknown>) => m.size,
  keys: (m: Map<unknown, unknown>) => [...m.keys()],
  values: (m: Map<unknown, unknown>) => [...m.values()],
  entries: (m: Map<unknown, unknown>) => [...m.entries()],
  update: (m: Map<unknown, unknown>, [entries]) => {
    // Every key is checked before any is set: a bad one changes nothing.
    const keyed = pairsOf(entries, 'update').map(([k, v]) => [dictKey(k), v] as const);
    for (const [k, v] of keyed) put(m, k, v);
  },
  pop: (m: Map<unknown, unknown>, [key, hasDefault, dflt]) => {
    const k = dictKey(key);
    if (m.has(k)) return takeOut(remove(m, k));
    if (hasDefault) return dflt; // counted for the caller as any answer is (ManagedObject.call)
    throw new RangeError(`key ${describe(k)} is not in the dict`);
  },
  setdefault: (m: Map<unknown, unknown>, [key, dflt]) => {
    const k = dictKey(key);
    if (!m.has(k)) put(m, k, dflt);
    return m.get(k);
  },
  clear: (m: Map<unknown, unknown>) => {
    uncontainEach(m);
    m.clear();
  },
  copy: (m: Map<unknown, unknown>) => new Map(m),
};

/** A list index, Python's way: negative counts from the end; out of range is a RangeError. */
function indexIn(a: unknown[], i: unknown, what: string): number {
  if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
  const j = (i as number) < 0 ? a.length + (i as number) : (i as number);
  if (j < 0 || j >= a.length) throw new RangeError(`${what} index ${i} out of range (length ${a.length})`);
  return j;
}

/**
 * Whether a list's item equals `v`: deep, as Python's == on lists; a number as JS's
 * includes finds it (0 and -0 equal, NaN equal to NaN), where v8's strict deep equality
 * would tell 0 from -0.
 */
const equal = (x: unknown, v: unknown): boolean =>
  typeof v === 'number' ? x === v || (v !== v && typeof x === 'number' && x !== x) : isDeepStrictEqual(x, v);

const firstEqual = (a: unknown[], v: unknown, from = 0): number => {
  for (let i = Math.max(0, from < 0 ? a.length + from : from); i < a.length; i++) if (equal(a[i], v)) return i;
  return -1;
};

/** An array's greatest length. */
const MAX_LENGTH = 2 ** 32 - 1;

export const LIST: Record<string, Op> = {
  length: (a: unknown[]) => a.length,
  at: (a: unknown[], [i]) => {
    if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
    return a.at(i);
  },
  /** `l[i]`, Python's way: out of range is a RangeError (Python's IndexError), where `at` gives undefined. */
  item: (a: unknown[], [i]) => a[indexIn(a, i, 'list')],
  set: (a: unknown[], [i, v]) => {
    const j = indexIn(a, i, 'assignment');
    contain(v);
    uncontain(a[j]);
    a[j] = v;
  },
  push: (a: unknown[], [items]) => {
    if (!Array.isArray(items)) throw new TypeError(`push takes an array of items, got ${describe(items)}`);
    if (a.length + items.length > MAX_LENGTH) throw new RangeError(`a list holds at most ${MAX_LENGTH} items`);
    // One by one: spread into push, a long extend would overflow the stack.
    for (const v of items) {
      contain(v);
      a.push(v);
    }
    return a.length;
  },
  insert: (a: unknown[], [i, v]) => {
    if (!Number.isInteger(i)) throw new TypeError(`a list index must be an integer, got ${describe(i)}`);
    const j = Math.min(a.length, Math.max(0, i < 0 ? a.length + i : i));
    contain(v);
    a.splice(j, 0, v);
  },
  pop: (a: unknown[], [i]) => {
    if (a.length === 0) throw new RangeError('pop from an empty list');
    const j = indexIn(a, i ?? -1, 'pop');
    return takeOut(a.splice(j, 1)[0]);
  },
  /** `delete l[i]` (Python's `del l[i]`): removes the item at i, returning nothing. */
  delete: (a: unknown[], [i]) => {
    uncontain(a.splice(indexIn(a, i, 'deletion'), 1)[0]);
  },
  remove: (a: unknown[], [v]) => {
    const j = firstEqual(a, v);
    if (j < 0) throw new RangeError(`${describe(v)} is not in the list`);
    uncontain(a.splice(j, 1)[0]);
  },
  indexOf: (a: unknown[], [v, from]) => {
    if (from !== undefined && !Number.isInteger(from)) throw new TypeError(`indexOf's start must be an integer, got ${describe(from)}`);
    return firstEqual(a, v, from ?? 0);
  },
  count: (a: unknown[], [v]) => a.reduce((n: number, x) => (equal(x, v) ? n + 1 : n), 0),
  slice: (a: unknown[], [start, end]) => a.slice(start, end),
  clear: (a: unknown[]) => {
    uncontainEach(a);
    a.length = 0;
  },
};

export const NAMESPACE: Record<string, Op> = {
  get: (m: Map<string, unknown>, [name]) => m.get(name),
  set: (m: Map<string, unknown>, [name, v]) => void put(m, name, v),
  delete: (m: Map<string, unknown>, [name]) => DICT.delete!(m, [name], undefined as never, undefined as never),
  has: (m: Map<string, unknown>, [name]) => m.has(name),
  names: (m: Map<string, unknown>) => [...m.keys()],
  /** [value] when the name is set, [] when not (a property's descriptor needs both). */
  lookup: (m: Map<string, unknown>, [name]) => (m.has(name) ? [m.get(name)] : []),
  entries: (m: Map<string, unknown>) => [...m.entries()],
};

export const VALUE: Record<string, Op> = {
  get: (box: { v: unknown }) => box.v,
  set: (box: { v: unknown }, [v]) => {
    contain(v);
    uncontain(box.v);
    box.v = v;
  },
};

/** What the server's main thread shares: the manager itself, which makes and counts objects. */
