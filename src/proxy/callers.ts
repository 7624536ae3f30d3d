/**
 * Who the broker serves, and what it does when one of them goes away. A caller is one
 * authenticated connection (one thread of another process); its owner id is what
 * locks record for it. When its connection closes, every wait it is in stops (a
 * Condition wait gives its place up, so a notify goes to a live waiter), and the Locks,
 * RLocks and Condition locks it holds are left to be taken over (ownerDied). Semaphore permits are not given
 * back: a semaphore may be a signal, and a permit taken is not owned by anyone.
 */
import { kindOf } from '../sync/shared.js';
import type { Lock, SemLock } from '../sync/semlock.js';
import type { HolderLock } from '../sync/lock-base.js';
import { waitAsync, type WaitRequest, type WaitSteps } from '../sync/waiting.js';

/** Who a call is for: the owner id locks record, and whether its connection is still open. */
export interface Caller {
  readonly owner: number;
  alive: boolean;
  /** The last put of this caller into each queue: its puts land in the order it made them. */
  readonly puts: Map<object, Promise<unknown>>;
  /** Locks and RLocks this caller took (some may have been released since). */
  readonly held: Set<SemLock>;
  /** Waits of this caller in progress: each stops when called. */
  readonly waits: Set<() => void>;
}

/** A new caller with owner id `owner`. */
export function newCaller(owner: number): Caller {
  return { owner, alive: true, puts: new Map(), held: new Set(), waits: new Set() };
}

/** Records that `caller` now holds `lock` (a Lock or RLock records its holder itself; a Semaphore is not tracked). */
export function tookLock(lock: SemLock, caller: Caller): void {
  const kind = kindOf(lock);
  if (kind === 'Lock' || kind === 'RLock') caller.held.add(lock);
}

/**
 * Releases `lock` fully for `caller`, only while its holder word still names the caller:
 * a Lock anyone may release may have been released for it and taken by another since.
 */
export function releaseIfHeld(lock: SemLock, caller: Caller): void {
  try {
    const kind = kindOf(lock);
    if (kind === 'RLock' && lock._isOwned(caller.owner)) lock._releaseAll(caller.owner);
    else if (kind === 'Lock') (lock as Lock)._releaseIfHeldBy(caller.owner);
  } catch {
    // already released by someone else: nothing to give back
  }
}

/**
 * Leaves what `caller` still holds to be taken over, its connection closed: the next
 * taker is told (ownerDied), as it would be of a holder that died in shared memory.
 */
function releaseHeld(caller: Caller): void {
  for (const lock of caller.held) (lock as unknown as HolderLock)._abandonBy(caller.owner);
  caller.held.clear();
}

const goneListeners: Array<(caller: Caller) => void> = [];

/** Calls `listener` with every caller whose connection closes, once its waits stopped and its locks went. */
export function onCallerGone(listener: (caller: Caller) => void): void {
  goneListeners.push(listener);
}

/** The caller's connection closed: its waits stop first (a notify must not pick them), then its locks go. */
export function callerGone(caller: Caller): void {
  caller.alive = false;
  for (const stop of [...caller.waits]) stop();
  caller.waits.clear();
  releaseHeld(caller);
  for (const listener of goneListeners) {
    try {
      listener(caller);
    } catch {
      // one listener's failure must not keep the others from cleaning up
    }
  }
}

/**
 * Runs wait steps for `caller` with the event loop free, as runAsync does, except that
 * a wait `stoppable` says may stop ends (it is told the time ran out) as soon as the
 * caller is gone, synchronously inside `callerGone`.
 */
export function runFor<T>(steps: WaitSteps<T>, caller: Caller, stoppable: (request: WaitRequest) => boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // Which yield is being waited on: a wake-up for an earlier one is ignored.
    let turn = 0;
    let stopHere = false;
    const stop = (): void => {
      if (stopHere) advance(false);
    };
    const advance = (woke: boolean): void => {
      turn++;
      stopHere = false;
      for (;;) {
        let r: IteratorResult<WaitRequest, T>;
        try {
          r = steps.next(woke);
        } catch (err) {
          caller.waits.delete(stop);
          reject(err);
          return;
        }
        if (r.done) {
          caller.waits.delete(stop);
          resolve(r.value);
          return;
        }
        const request = r.value;
        if (!caller.alive && stoppable(request)) {
          woke = false;
          continue;
        }
        stopHere = stoppable(request);
        const mine = turn;
        waitAsync(request.view, request.index, request.expected, request.deadline).then(
          (w) => {
            if (turn === mine) advance(w);
          },
          (err: unknown) => {
            if (turn === mine) {
              caller.waits.delete(stop);
              reject(err);
            }
          },
        );
        return;
      }
    };
    caller.waits.add(stop);
    // The first step has no wake-up to report (a generator ignores the first next's argument).
    advance(true);
  });
}
