/**
 * What a manager's proxy carries, and how either side finds the proxies inside a value
 * (a dict's value, a method's result): a proxy is plain data (its reference) plus a
 * registered class, so it can sit anywhere in a cloned value.
 */
import type { ProxyRef } from '../proxy/protocol.js';
import { kindOf } from '../sync/shared.js';

/** The manager protocol's version: a client and a server that differ refuse each other by name. */
export const MANAGER_PROTOCOL = 1;

/** The id of the manager's root object (the first, and only, object its server's main thread shares). */
export const ROOT_ID = 1;

/** A reference to an object of a manager: a ProxyRef that also says which manager and where its root is. */
export interface ManagedRef extends ProxyRef {
  /** The manager's token: tells its proxies apart from other objects' (random per server). */
  readonly mgr: string;
  /** The id of the manager's root object, which counts references. */
  readonly root: number;
  /** Where the manager listens, as users name it (for error messages). */
  readonly where: string;
}

/** How users name an address: a socket path as it is, `tcp://host:port` as host:port. */
export const whereOf = (addr: string): string => (addr.startsWith('tcp://') ? addr.slice('tcp://'.length) : addr);

/** The reference of a manager's proxy, or undefined for any other value. */
export function managedRefOf(value: unknown): ManagedRef | undefined {
  const kind = kindOf(value);
  if (kind === undefined || !kind.startsWith('Remote')) return undefined;
  const ref = (value as { _ref?: Partial<ManagedRef> })._ref;
  return ref !== undefined && typeof ref.mgr === 'string' && typeof ref.id === 'number' ? (ref as ManagedRef) : undefined;
}

/**
 * Calls `visit` with every proxy of the manager `token` in `value` (any token when
 * undefined), looking inside arrays, plain objects, Maps, Sets and proxies themselves
 * (a Condition's proxy holds its lock's). Each object is looked at once.
 */
export function forEachProxy(value: unknown, token: string | undefined, visit: (proxy: object, ref: ManagedRef) => void, seen = new Set<object>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp) return;
  seen.add(value);
  const ref = managedRefOf(value);
  if (ref !== undefined && (token === undefined || ref.mgr === token)) visit(value, ref);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      forEachProxy(k, token, visit, seen);
      forEachProxy(v, token, visit, seen);
    }
  } else if (value instanceof Set) {
    for (const v of value) forEachProxy(v, token, visit, seen);
  } else {
    for (const v of Object.values(value)) forEachProxy(v, token, visit, seen);
  }
}
