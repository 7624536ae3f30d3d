/**
 * Who holds or waits on a primitive, as one number in shared memory (0 means nobody).
 * With shared memory between processes (shm-tree.ts) a thread's id is unique in the
 * whole process tree; without it, a thread of this process is its threadId + 1. A caller
 * in another process served by the owner's broker thread gets an id from
 * REMOTE_OWNER_BASE up.
 */
import { threadId } from 'node:worker_threads';
import { isThreadDead, isThreadGone } from './thread-life.js';
import { isProcessGone, ownerOf, treeOwnerId } from './shm-tree.js';

/** This thread's owner id. */
export const ME = treeOwnerId ?? threadId + 1;

/** The first owner id the proxy broker gives a remote caller (threadIds stay far below it). */
export const REMOTE_OWNER_BASE = 2 ** 30;

/**
 * The holder a lock records once the proxy broker found that the remote caller holding
 * it is gone: always dead, so the next taker takes the lock over and is told (ownerDied).
 */
export const DEAD_REMOTE = REMOTE_OWNER_BASE - 1;

/** Asks `threadGone` of a thread of this process, and of another process whether it is gone. */
function gone(owner: number, threadGone: (tid: number) => boolean): boolean {
  if (owner === DEAD_REMOTE) return true;
  if (owner <= 0 || owner >= REMOTE_OWNER_BASE || owner === ME) return false;
  if (treeOwnerId === undefined) return threadGone(owner - 1);
  const where = ownerOf(owner);
  if (where === undefined) return false;
  if (where.recycled) return true;
  return where.pid === process.pid ? threadGone(where.tid) : isProcessGone(where.pid, where.start);
}

/**
 * True when `owner` will never release what it holds nor act on what it waits for: a
 * thread of this process that is being stopped or has exited, or a thread of another
 * process of the tree that is gone. A remote caller's death is its broker's to handle,
 * so it is never reported here (the broker leaves DEAD_REMOTE as the holder).
 */
export function isOwnerGone(owner: number): boolean {
  return gone(owner, isThreadGone);
}

/** True when `owner` has exited: a thread of this process (not merely being stopped), or another process of the tree. */
export function isOwnerDead(owner: number): boolean {
  return gone(owner, isThreadDead);
}
