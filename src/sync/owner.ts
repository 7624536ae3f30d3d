/**
 * Who holds or waits on a primitive, as one number in shared memory: a thread of this
 * process is its threadId + 1 (never 0, which means nobody); a caller in another
 * process, served by the owner's broker thread, gets an id from REMOTE_OWNER_BASE up.
 */
import { threadId } from 'node:worker_threads';
import { isThreadDead, isThreadGone } from './thread-life.js';

/** This thread's owner id. */
export const ME = threadId + 1;

/** The first owner id the proxy broker gives a remote caller (threadIds stay far below it). */
export const REMOTE_OWNER_BASE = 2 ** 30;

/**
 * True when `owner` is a thread of this process that is being stopped or has exited:
 * it will never release what it holds nor act on what it waits for. A remote caller's
 * death is its broker's to handle, so it is never reported here.
 */
export function isOwnerGone(owner: number): boolean {
  return owner > 0 && owner < REMOTE_OWNER_BASE && owner !== ME && isThreadGone(owner - 1);
}

/** True when `owner` is a thread of this process that has exited (not merely being stopped). */
export function isOwnerDead(owner: number): boolean {
  return owner > 0 && owner < REMOTE_OWNER_BASE && owner !== ME && isThreadDead(owner - 1);
}
