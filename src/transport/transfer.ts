import type { TransferListItem } from 'node:worker_threads';

// A brand on globalThis's symbol registry, so a marker made by one copy of concur is
// recognised by another (the task module's import and the worker runtime's).
const BRAND = Symbol.for('concur.transfer');

/** A task result to move, not copy, back to the caller. */
interface Transferred {
  readonly [BRAND]: true;
  readonly value: unknown;
  readonly list: readonly TransferListItem[];
}

/**
 * Returned from a task, moves `list` (ArrayBuffers, MessagePorts) back to the caller
 * instead of copying them; the caller receives `value`. Typed as `value` so the
 * task's result type is unchanged.
 */
export function transfer<T>(value: T, list: readonly TransferListItem[]): T {
  if (!Array.isArray(list)) throw new TypeError('transfer(value, list): list must be an array of transferable objects');
  return { [BRAND]: true, value, list } as Transferred as T;
}

/** If `value` came from `transfer()`, its parts; otherwise undefined. */
export function unwrapTransfer(value: unknown): Transferred | undefined {
  return value !== null && typeof value === 'object' && (value as Transferred)[BRAND] === true ? (value as Transferred) : undefined;
}
