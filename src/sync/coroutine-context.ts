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

/**
 * Handing an acquisition's context to the coroutine that called acquire():
 *
 *   run that calls acquire()                    later, as promises settle
 *   ------------------------                    -------------------------
 *   handToCaller(C)
 *   P = acquire()'s promise  -> carrier of C
 *   (wrappers: Promise.race's Q, its then D,    D runs (trigger P: carrier)  -> gets C,
 *    timeout()'s timer, finally F ...)            resolves Q (made before D)  -> Q a carrier
 *   the caller's await T (trigger Q, or P)      T runs (trigger Q: carrier)  -> gets C:
 *                                                 the caller's code after its await owns
 *
 * Every resource made in the calling run after the call is "fresh" and remembers its
 * trigger. A fresh resource gets C when its callback is about to run if its trigger is
 * a carrier then: P itself, a fresh resource that got C, or a fresh promise that a
 * carrier's callback resolved and that was made before that carrier (what a
 * combinator such as Promise.race does: it settles its own promise from the callback
 * it put on P). So the promise that wraps P's outcome carries C to whichever fresh
 * await or then() receives it, and a coroutine started in the same run that awaits
 * something else never gets it.
 */
const RUN = Symbol('concur.acquireRun');
const SEQ = Symbol('concur.acquireSeq');
const TRIGGER = Symbol('concur.acquireTrigger');
const CARRIES = Symbol('concur.carries');

/** Resources made in one synchronous run after an RLock's acquire() in it. */
interface Run {
  /** Its executionAsyncId. */
  readonly id: number;
  /** Each fresh resource's number, by async id. */
  readonly fresh: Map<number, number>;
  next: number;
  /** Fresh resources still recorded before the run stops recording (a run that makes thousands costs nothing more). */
  left: number;
  /** The acquisitions made in this run, latest last. */
  readonly handed: Handed[];
  /** The acquisition whose promise is the next resource made. */
  wanting: Handed | undefined;
}

/** One acquisition's context on its way to the caller. */
interface Handed {
  readonly ctx: Ctx;
  readonly run: Run;
  /** Only resources made after this number can receive it. */
  readonly since: number;
  /** The async ids that pass it on (see above). */
  readonly carriers: Set<number>;
}

interface Marked {
  [KEY]?: Ctx;
  [RUN]?: Run;
  [SEQ]?: number;
  [TRIGGER]?: number;
  [CARRIES]?: Handed;
}

/** Most fresh resources recorded after one acquire(): wrappers make a handful. */
const FRESH_MAX = 64;

/** The run that made the latest acquisition, while it lasts. */
let current: Run | undefined;

/**
 * Carrying contexts costs every async resource a call (as AsyncLocalStorage does), so
 * the hook is on only while some context of this thread holds an RLock (or is being
 * handed to its caller): a context that holds nothing means nothing.
 */
const hook = createHook({
  init(asyncId, _type, trigger, resource) {
    const r = resource as Marked;
    const run = current;
    if (run !== undefined) {
      if (executionAsyncId() !== run.id) current = undefined;
      else {
        if (run.wanting !== undefined) {
          run.wanting.carriers.add(asyncId);
          run.wanting = undefined;
        }
        if (run.left > 0) {
          run.left--;
          const seq = run.next++;
          run.fresh.set(asyncId, seq);
          r[RUN] = run;
          r[SEQ] = seq;
          r[TRIGGER] = trigger;
        }
      }
    }
    const c = (executionAsyncResource() as Marked)[KEY];
    if (c !== undefined) r[KEY] = c;
  },
  before(asyncId) {
    const r = executionAsyncResource() as Marked;
    const run = r[RUN];
    if (run === undefined || r[CARRIES] !== undefined) return;
    const trigger = r[TRIGGER]!;
    for (let i = run.handed.length - 1; i >= 0; i--) {
      const h = run.handed[i]!;
      if (r[SEQ]! > h.since && h.carriers.has(trigger)) {
        r[KEY] = h.ctx;
        r[CARRIES] = h;
        h.carriers.add(asyncId);
        return;
      }
    }
  },
  promiseResolve(asyncId) {
    const e = executionAsyncResource() as Marked;
    const h = e[CARRIES];
    if (h === undefined) return;
    const seq = h.run.fresh.get(asyncId);
    if (seq !== undefined && seq > h.since && seq < e[SEQ]!) h.carriers.add(asyncId);
  },
  after(asyncId) {
    if (current !== undefined && current.id === asyncId) current = undefined;
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
    if (holdings === 0 && hooked) {
      hooked = false;
      hook.disable();
      current = undefined;
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
 * Hands `c` to the code of the caller that receives the promise made next in this
 * synchronous run (acquire()'s own): call it just before making that promise. The
 * caller's await of it, or of whatever wraps it (see the picture above), gets `c`.
 */
export function handToCaller(c: Ctx): void {
  carry();
  const id = executionAsyncId();
  let run = current;
  if (run === undefined || run.id !== id) {
    run = { id, fresh: new Map(), next: 1, left: 0, handed: [], wanting: undefined };
    current = run;
  }
  const h: Handed = { ctx: c, run, since: run.next - 1, carriers: new Set() };
  run.handed.push(h);
  run.wanting = h;
  run.left = FRESH_MAX;
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
