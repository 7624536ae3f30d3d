/**
 * Who owns an RLock inside one thread: an async context (a coroutine), as asyncio
 * tells tasks apart, so that coroutines of one thread exclude each other as threads do.
 *
 * A context is an object carried by async resources, as AsyncLocalStorage carries its
 * store: every resource (a promise, a timer...) made while a context is current
 * carries it, so the code that runs later from that resource has it again. Taking an
 * RLock afresh makes a new context, and where it goes is what matters:
 *
 * - `await lock.acquire()`: the new context goes to the next resource made in this
 *   synchronous run, which is the caller's own `await` (or `.then`). Only the code after
 *   that await carries it; the rest of the synchronous run does not. So in
 *   `f(); g(); await x;` where f and g each start with `await lock.acquire()`, f, g and
 *   the caller are three contexts. (AsyncLocalStorage's enterWith would have given f's
 *   context to g and to the caller too: JavaScript has no hook at the end of a
 *   synchronous run, but a resource's creation is one.)
 * - `lock.acquireSync()`: the new context becomes current for the rest of this
 *   synchronous run (and what it awaits later), since blocking code goes on in it.
 *
 * A context made while the current one holds locks points to it (`parent`), so a
 * coroutine that holds one lock and takes another still owns both, and a function a
 * holder calls is in its context (it may re-enter and release).
 */
import { createHook, executionAsyncId, executionAsyncResource } from 'node:async_hooks';
import { setTimeout } from 'node:timers';

const KEY = Symbol('concur.asyncContext');
type Carrier = Record<symbol, Ctx | undefined>;

/** An async context that can own RLocks. */
export class Ctx {
  /** Its id in this thread (never 0: 0 in a lock's context word means none). */
  readonly id: number;
  /** How many RLocks it holds now; a context that holds none is never made a parent. */
  holding = 0;

  constructor(
    /** The context it was made in, while that one held locks: its locks are this one's too. */
    readonly parent: Ctx | undefined,
  ) {
    this.id = nextId();
  }
}

let counter = 0;
function nextId(): number {
  // Wraps after 2**32 contexts; an id is only ever compared with a lock's holder.
  counter = (counter + 1) | 0;
  if (counter === 0) counter = 1;
  return counter;
}

// The context the next resource made in the synchronous run `pendingRun` gets.
let pending: Ctx | undefined;
let pendingRun = -1;
let pendingLeft = 0;

/**
 * Carrying contexts costs every async resource a call (as AsyncLocalStorage does), so
 * the hook is on only while some context of this thread holds an RLock (or is being
 * handed to an await): a context that holds nothing means nothing.
 */
const hook = createHook({
  init(_asyncId, _type, _trigger, resource) {
    if (pendingLeft > 0) {
      if (executionAsyncId() === pendingRun) {
        (resource as Carrier)[KEY] = pending;
        if (--pendingLeft === 0) pending = undefined;
        return;
      }
      // A resource made in another run: the run that acquired ended without awaiting.
      pendingLeft = 0;
      pending = undefined;
    }
    const c = (executionAsyncResource() as Carrier)[KEY];
    if (c !== undefined) (resource as Carrier)[KEY] = c;
  },
});
let hooked = false;
/** RLock holdings by contexts of this thread. */
let holdings = 0;
let offCheck: ReturnType<typeof setTimeout> | undefined;

function carry(): void {
  if (!hooked) {
    hooked = true;
    hook.enable();
  }
}

/** Turns the hook off a moment after the last holding ended, unless one began since (no churn in a loop). */
function carryLess(): void {
  if (offCheck !== undefined) return;
  offCheck = setTimeout(() => {
    offCheck = undefined;
    if (holdings === 0 && pendingLeft === 0 && hooked) {
      hooked = false;
      hook.disable();
    }
  }, 200);
  offCheck.unref();
}

/** The context the running code belongs to, or undefined outside any. */
export function currentCtx(): Ctx | undefined {
  return (executionAsyncResource() as Carrier)[KEY];
}

/** A fresh context for a lock about to be taken; its parent is the nearest current context that holds locks. */
export function newCtx(): Ctx {
  let parent = currentCtx();
  while (parent !== undefined && parent.holding === 0) parent = parent.parent;
  return new Ctx(parent);
}

/** Makes `c` current for the rest of this synchronous run (a blocking acquire). */
export function enterNow(c: Ctx): void {
  (executionAsyncResource() as Carrier)[KEY] = c;
}

/**
 * Hands `c` to the next `resources` async resources made in this synchronous run: the
 * caller's await of the promise being returned (and, for `hold`, the caller's await of
 * its `then`). Call it last before returning: a resource made first would take it.
 */
export function enterAtAwait(c: Ctx, resources = 1): void {
  carry();
  pending = c;
  pendingRun = executionAsyncId();
  pendingLeft = resources;
}

/** The context in `c`'s chain whose id is `id`, or undefined: the owner, if `c` may act for it. */
export function findCtx(c: Ctx | undefined, id: number): Ctx | undefined {
  for (; c !== undefined; c = c.parent) if (c.id === id) return c;
  return undefined;
}

/** Records that `c` took an RLock: from now on its code carries it across awaits. */
export function tookLock(c: Ctx): void {
  c.holding++;
  if (holdings++ === 0) carry();
}

/** Records that `c` gave an RLock back. */
export function gaveLock(c: Ctx): void {
  c.holding--;
  if (--holdings === 0) carryLess();
}
