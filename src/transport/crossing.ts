import type { MessagePort, TransferListItem } from 'node:worker_threads';
import { dataOf, leaving, reviveShared } from '../sync/shared.js';
import { checkMovable, Connection, portEndpoint } from './pipe.js';

/** A Connection on its way into a thread: its port travels in the transfer list. */
interface ConnectionMarker {
  $concur: 'connection';
  port: MessagePort;
  readable: boolean;
  writable: boolean;
}

const isMarker = (a: unknown): a is ConnectionMarker =>
  a !== null && typeof a === 'object' && (a as { $concur?: unknown }).$concur === 'connection';

/** Replaces Connections among `args` with markers whose ports move into a thread. */
export function argsForThread(args: readonly unknown[]): { args: unknown[]; transfer: TransferListItem[] } {
  const transfer: TransferListItem[] = [];
  checkMovable(args, true);
  leaving(args);
  const out = args.map((a) => {
    if (!(a instanceof Connection)) return dataOf(a); // a view (a namespace's) crosses as its data
    const { readable, writable } = a;
    const port = a.moveOut().port!; // checkMovable saw one
    transfer.push(port);
    return { $concur: 'connection', port, readable, writable } satisfies ConnectionMarker;
  });
  return { args: out, transfer };
}

/** Turns a marker made by `argsForThread` back into a Connection, and a shared primitive back into its class, in the thread. */
export function reviveArg(a: unknown): unknown {
  return isMarker(a) ? new Connection(portEndpoint(a.port), a.readable, a.writable) : reviveShared(a);
}

/** `reviveArg` over an argument list. */
export function reviveInThread(args: readonly unknown[]): unknown[] {
  return args.map(reviveArg);
}
