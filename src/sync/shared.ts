/**
 * Primitives keep their state in public fields over SharedArrayBuffers, so a
 * structured clone into a worker thread carries the same memory; it loses only the
 * prototype. Each class registers here under a stable name, every instance carries
 * that name, and `reviveShared` gives a clone its methods back.
 */
import { acknowledgeMapped, isViewRef, MAPPED_FIELD, openView, type ViewRef } from './shm.js';
import { addView, isView } from './views.js';

export { dataOf, sendingData, withoutViews } from './views.js';

const KIND = '__concurShared';
const classes = new Map<string, Function>();

/** Registers a primitive class; its instances are revived after crossing into a thread. */
export function registerShared(kind: string, cls: Function, view?: (data: object) => object): void {
  classes.set(kind, cls);
  if (view !== undefined) viewMakers.set(kind, view);
  Object.defineProperty(cls.prototype, KIND, { value: kind, enumerable: false, configurable: true });
}

/**
 * Gives a structured clone of a primitive its class back (in place; its kind's view of it
 * is returned, and put in place of those in its fields); other values pass through.
 */
export function reviveShared<T>(value: T): T {
  if (value === null || typeof value !== 'object' || isView(value)) return value;
  const kind = (value as Record<string, unknown>)[KIND];
  if (typeof kind !== 'string') return value;
  const cls = classes.get(kind);
  const fresh = cls !== undefined && Object.getPrototypeOf(value) !== cls.prototype;
  let mapped: unknown;
  if (fresh) {
    Object.setPrototypeOf(value, cls.prototype);
    // From another process, its memory comes as references to map (shm-crossing.ts).
    const fields = value as Record<string, unknown>;
    if (MAPPED_FIELD in fields) {
      mapped = fields[MAPPED_FIELD];
      delete fields[MAPPED_FIELD];
    }
    for (const k of Object.keys(fields)) if (isViewRef(fields[k])) fields[k] = openView(fields[k] as ViewRef);
  }
  const fields = value as Record<string, unknown>;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    const revived = reviveShared(v);
    if (revived !== v) fields[k] = revived;
  }
  // Everything in it mapped (its fields' primitives too): its sender may let go.
  if (mapped !== undefined) acknowledgeMapped(mapped);
  if (fresh) for (const hook of revivalHooks) hook(value as object, kind);
  return viewOf(value);
}

const viewMakers = new Map<string, (data: object) => object>();
const viewOfData = new WeakMap<object, object>();

/** The view of `data` (one per instance, so a value revived twice is the same object), or `data` for a kind without views. */
export function viewOf<T>(data: T): T {
  if (data === null || typeof data !== 'object') return data;
  const kind = (data as Record<string, unknown>)[KIND];
  const make = typeof kind === 'string' ? viewMakers.get(kind) : undefined;
  if (make === undefined || isView(data)) return data;
  let view = viewOfData.get(data);
  if (view === undefined) {
    view = make(data);
    viewOfData.set(data, view);
    addView(view, data);
  }
  return view as T;
}

const revivalHooks: Array<(value: object, kind: string) => void> = [];

/**
 * Calls `hook` with each primitive (or proxy) revived from a clone, once its class is
 * back: a manager's proxy counts itself in the thread it arrived in.
 */
export function onRevive(hook: (value: object, kind: string) => void): void {
  revivalHooks.push(hook);
}

/**
 * Calls `visit` with each primitive (or proxy) inside `value`: the value itself, or
 * one in its arrays, plain objects, Maps and Sets, at any depth (not inside another
 * primitive: reviving one revives its fields).
 */
function forEachShared(value: unknown, visit: (shared: object) => void, seen?: Set<object>): void {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  if (typeof (value as Record<string, unknown>)[KIND] === 'string') return visit(value);
  seen ??= new Set();
  if (seen.has(value)) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      forEachShared(k, visit, seen);
      forEachShared(v, visit, seen);
    }
  } else if (value instanceof Set) {
    for (const v of value) forEachShared(v, visit, seen);
  } else if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) forEachShared(v, visit, seen);
  }
}

/**
 * `reviveShared` for every primitive (or proxy) inside `value` too (a queue's item, a
 * manager's answer): in place, views put where their data was; returns `value` (or its
 * view). The value must be fresh from a clone: the containers in it are changed.
 */
export function reviveWithin<T>(value: T, seen = new Set<object>()): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (typeof (value as Record<string, unknown>)[KIND] === 'string') return reviveShared(value);
  if (seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      reviveWithin(k, seen); // a key keeps its identity: it is revived, not replaced
      const w = reviveWithin(v, seen);
      if (w !== v) value.set(k, w);
    }
  } else if (value instanceof Set) {
    const items = [...value];
    const revived = items.map((v) => reviveWithin(v, seen));
    if (revived.some((v, i) => v !== items[i])) {
      value.clear();
      for (const v of revived) value.add(v);
    }
  } else if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) {
    const fields = value as Record<string, unknown>;
    for (const k of Object.keys(fields)) {
      const v = fields[k];
      const w = reviveWithin(v, seen);
      if (w !== v) fields[k] = w;
    }
  }
  return value;
}

const leavingHooks: Array<(value: object) => void> = [];

/**
 * Calls `hook` with each primitive (or proxy) about to be cloned into another thread (a
 * Thread's or a thread pool task's argument), and with each primitive of this thread on
 * its way into another process (toProxy). A hook may throw to refuse it.
 */
export function onLeaving(hook: (value: object) => void): void {
  leavingHooks.push(hook);
}

/** Tells the `onLeaving` hooks about the primitives (and proxies) among `values`, which are about to be cloned into another thread. */
export function leaving(values: readonly unknown[]): void {
  for (const v of values) if (isShared(v)) for (const hook of leavingHooks) hook(v as object);
}

/** `leaving` for every primitive (or proxy) inside `value` (a queue's item, on its way to whoever gets it). */
export function leavingWithin(value: unknown): void {
  if (leavingHooks.length > 0) forEachShared(value, (v) => leavingHooks.forEach((hook) => hook(v)));
}

/** Marks an instance with its registered kind as an own field, so it survives a structured clone. */
export function brandInstance(instance: object, cls: Function): void {
  const kind = (cls.prototype as Record<string, unknown>)[KIND];
  if (typeof kind === 'string') Object.defineProperty(instance, KIND, { value: kind, enumerable: true, configurable: true, writable: false });
}

/** True for an instance of a registered primitive. */
export function isShared(value: unknown): boolean {
  return value !== null && typeof value === 'object' && typeof (value as Record<string, unknown>)[KIND] === 'string';
}

/** The name a primitive's class registered under, or undefined for anything else. */
export function kindOf(value: unknown): string | undefined {
  return isShared(value) ? ((value as Record<string, unknown>)[KIND] as string) : undefined;
}
