/**
 * What a manager's proxy carries, and how either side finds the proxies inside a value
 * (a dict's value, a method's result): a proxy is plain data (its reference) plus a
 * registered class, so it can sit anywhere in a cloned value.
 */
import type { ProxyRef } from '../proxy/protocol.js';
import { kindOf } from '../sync/shared.js';
import { describe } from '../futures/future.js';

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
  /**
   * How long a container call through this proxy waits for its answer, in ms (Infinity:
   * for ever); absent in a reference made by hand. Set by the server from its
   * `callTimeout`, or by a `Manager.connect` of its own, and carried wherever the proxy goes.
   */
  readonly callTimeout?: number;
}

/** A container call's answer is awaited this long by default (the managers' `callTimeout`). */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

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
 * (a Condition's proxy holds its lock's). Each object is looked at once. A stack of its
 * own, not recursion: a deeply nested value must not overflow the call stack.
 */
export function forEachProxy(value: unknown, token: string | undefined, visit: (proxy: object, ref: ManagedRef) => void): void {
  const seen = new Set<object>();
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const v = todo.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp) continue;
    seen.add(v);
    const ref = managedRefOf(v);
    if (ref !== undefined && (token === undefined || ref.mgr === token)) visit(v, ref);
    // Pushed in reverse, so they are visited in order.
    const inner = v instanceof Map ? [...v].flat() : v instanceof Set ? [...v] : Object.values(v);
    for (let i = inner.length - 1; i >= 0; i--) todo.push(inner[i]);
  }
}

/** The items of `items`, an iterable (an array, a string, a Set, ...); anything else is a TypeError saying so, as Python's list(5) refuses it. */
export function itemsOf<T>(items: Iterable<T>, what: string): T[] {
  if (items === null || items === undefined || typeof (items as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new TypeError(`${what} takes an iterable of items (an array, a Set, a string, ...), got ${describe(items)}`);
  }
  return [...items];
}
