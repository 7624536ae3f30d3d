/**
 * Primitives keep their state in public fields over SharedArrayBuffers, so a
 * structured clone into a worker thread carries the same memory; it loses only the
 * prototype. Each class registers here under a stable name, every instance carries
 * that name, and `reviveShared` gives a clone its methods back.
 */
import { isViewRef, openView, type ViewRef } from './shm.js';

const KIND = '__concurShared';
const classes = new Map<string, Function>();

/** Registers a primitive class; its instances are revived after crossing into a thread. */
export function registerShared(kind: string, cls: Function): void {
  classes.set(kind, cls);
  Object.defineProperty(cls.prototype, KIND, { value: kind, enumerable: false, configurable: true });
}

/** Gives a structured clone of a primitive its class back (in place); other values pass through. */
export function reviveShared<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const kind = (value as Record<string, unknown>)[KIND];
  if (typeof kind !== 'string') return value;
  const cls = classes.get(kind);
  const fresh = cls !== undefined && Object.getPrototypeOf(value) !== cls.prototype;
  if (fresh) {
    Object.setPrototypeOf(value, cls.prototype);
    // From another process, its memory comes as references to map (shm-crossing.ts).
    const fields = value as Record<string, unknown>;
    for (const k of Object.keys(fields)) if (isViewRef(fields[k])) fields[k] = openView(fields[k] as ViewRef);
  }
  for (const v of Object.values(value as object)) reviveShared(v);
  if (fresh) for (const hook of revivalHooks) hook(value as object, kind);
  return value;
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

/** `reviveShared` for every primitive (or proxy) inside `value` too (a queue's item); returns `value`. */
export function reviveWithin<T>(value: T): T {
  forEachShared(value, reviveShared);
  return value;
}

const leavingHooks: Array<(value: object) => void> = [];

/** Calls `hook` with each primitive (or proxy) about to be cloned into another thread (a Thread's or a thread pool task's argument). */
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
