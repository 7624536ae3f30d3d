/**
 * Who owns an RLock inside one thread: an async context (a coroutine), as asyncio
 * tells tasks apart, so that coroutines of one thread exclude each other as threads do.
 *
 * A context is an object carried by async resources, as AsyncLocalStorage carries its
 * store: every resource (a promise, a timer...) made while a context is current
 * carries it, so the code that runs later from that resource has it again. Taking an
 * RLock afresh makes a new context, and where it goes is what matters:
 *
 * - `await lock.acquire()`: the new context goes to the code of the coroutine that
 *   called acquire(), after its await of the promise, or of whatever wraps it
 *   (Promise.race, timeout(), a then() chain, an async helper): see handToCaller. The
 *   rest of the synchronous run does not get it. So in `f(); g(); await x;` where f and
 *   g each start with `await lock.acquire()`, f, g and the caller are three contexts.
 *   (AsyncLocalStorage's enterWith would have given f's context to g and to the caller
 *   too: JavaScript has no hook at the end of a synchronous run, but a resource's
 *   creation is one.)
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
  /** Its acquisition is awaited through a wrapper: taking the lock later turns the second hook on again. */
  wrapped = false;

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
 * Handing an acquisition's context C to the coroutine that called acquire():
 *
 *   the run that calls acquire()                later, as promises settle
 *   ----------------------------                -------------------------
 *   handToCaller(C); P = acquire()'s promise    (P: a carrier of C)
 *   direct: the caller's await or then() on P   -> gets C as it is made (trigger P)
 *   wrapped: Promise.race's Q (a fresh resource,
 *     remembering its trigger), its then D on P -> gets C as it is made (trigger P)
 *                                               D runs, resolves Q (made before D) -> Q a carrier
 *   the caller's await T of Q (fresh)           T is about to run, its trigger a carrier -> gets C:
 *                                                 the caller's code after its await owns
 *
 * A resource made in the calling run whose trigger is a carrier gets C at once: that
 * is the whole story when the caller awaits (or then()s) acquire()'s promise directly,
 * and costs nothing more. When a resource of that run comes first that does not (a
 * wrapper's own promise, a timer), the acquisition is "wrapped": the resources made
 * after it in that run are fresh and remember their trigger. A fresh promise that a
 * carrier's callback resolves becomes a carrier, if it was made before that carrier
 * (what a combinator does: it settles its own promise from the callback it put on P),
 * and a second hook (on only while some acquisition is wrapped) gives C to a fresh
 * resource about to run whose trigger is a carrier by then. So the promise that wraps P's
 * outcome carries C to the await or then() that receives it, and a coroutine started in
 * the same run that awaits something else never gets it.
 */
const RUN = Symbol('concur.acquireRun');
const SEQ = Symbol('concur.acquireSeq');
const TRIGGER = Symbol('concur.acquireTrigger');
const CARRIES = Symbol('concur.carries');

/** The synchronous run that called acquire(), and what it made since. */
interface Run {
  /** Its executionAsyncId. */
  readonly id: number;
  /** Each fresh resource's number, by async id (made when the first is: most runs have none). */
  fresh: Map<number, number> | undefined;
  next: number;
  /** Fresh resources still to record (a run that makes thousands records a handful). */
  left: number;
  /** The acquisitions made in this run, latest last. */
  readonly handed: Handed[];
  /** The acquisition whose promise is the next resource made. */
  wanting: Handed | undefined;
  /** False while concur's own code makes resources (inside acquire()): none is the caller's. */
  recording: boolean;
}

/** One acquisition's context on its way to the caller. */
interface Handed {
  readonly ctx: Ctx;
  readonly run: Run;
  /** Only resources made after this number can receive it. */
  since: number;
  /** The async ids that pass it on (see above). */
  readonly carriers: Set<number>;
  /** A resource of the run that does not carry it came first: the caller awaits a wrapper. */
  wrapped: boolean;
  /** A resource of the run got it directly and nothing came before: nothing more to record. */
  decided: boolean;
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
    const c = (executionAsyncResource() as Marked)[KEY];
    if (c !== undefined) r[KEY] = c;
    const run = current;
    if (run === undefined) return;
    if (executionAsyncId() !== run.id) {
      current = undefined;
      return;
    }
    if (run.wanting !== undefined) {
      run.wanting.carriers.add(asyncId);
      run.wanting = undefined;
      return;
    }
    if (!run.recording) return;
    for (let i = run.handed.length - 1; i >= 0; i--) {
      const h = run.handed[i]!;
      if (h.carriers.has(trigger)) {
        r[KEY] = h.ctx;
        r[CARRIES] = h;
        h.carriers.add(asyncId);
        if (!h.wrapped) h.decided = true;
        // Wrapped, it gets a number too: only what was made before it is what its callback may settle for the caller.
        else if (run.left > 0) fresh(run, asyncId, trigger, r);
        return;
      }
    }
    const latest = run.handed[run.handed.length - 1]!;
    if (latest.decided || run.left === 0) return;
    if (!latest.wrapped) {
      latest.wrapped = true;
      latest.ctx.wrapped = true;
      handing();
    }
    fresh(run, asyncId, trigger, r);
  },
  // Here, not in the second hook: a promiseResolve hook enabled from inside an init hook never fires.
  promiseResolve(asyncId) {
    const e = executionAsyncResource() as Marked;
    const h = e[CARRIES];
    if (h === undefined) return;
    const seq = h.run.fresh?.get(asyncId);
    if (seq !== undefined && e[SEQ] !== undefined && seq > h.since && seq < e[SEQ]) h.carriers.add(asyncId);
  },
});

/** Records `r` as a fresh resource of `run`. */
function fresh(run: Run, asyncId: number, trigger: number, r: Marked): void {
  run.left--;
  const seq = run.next++;
  (run.fresh ??= new Map()).set(asyncId, seq);
  r[RUN] = run;
  r[SEQ] = seq;
  r[TRIGGER] = trigger;
}

/** The second hook, on while some acquisition is wrapped: see the picture above. */
const wrappedHook = createHook({
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
});
let hooked = false;
let handingOn = false;
/** When the last wrapped acquisition began (the second hook goes off a while after). */
let lastWrapped = 0;
/** RLock holdings by contexts of this thread. */
let holdings = 0;
let offCheck: ReturnType<typeof setTimeout> | undefined;

function carry(): void {
  if (!hooked) {
    hooked = true;
    hook.enable();
  }
}

/** Turns the second hook on for a wrapped acquisition. */
function handing(): void {
  lastWrapped = performance.now();
  if (!handingOn) {
    handingOn = true;
    wrappedHook.enable();
  }
  carryLess();
}

/**
 * Turns the hooks off a moment after they are last needed, unless needed again since
 * (no churn in a loop): the second a while after the last wrapped acquisition began or
 * took its lock (its wrappers settle in the microtasks after that), the first once no
 * holding is left.
 */
function carryLess(): void {
  if (offCheck !== undefined) return;
  offCheck = setTimeout(() => {
    offCheck = undefined;
    if (handingOn && performance.now() - lastWrapped >= WRAPPED_GRACE_MS) {
      handingOn = false;
      wrappedHook.disable();
    }
    if (holdings === 0 && !handingOn && hooked) {
      hooked = false;
      hook.disable();
      current = undefined;
    }
    if (handingOn || hooked) carryLess();
  }, 200);
  offCheck.unref();
}

/** How long the second hook stays on after the last wrapped acquisition began. */
const WRAPPED_GRACE_MS = 1000;

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
 * Hands `c` to the caller that receives the promise made next in this synchronous run
 * (acquire()'s own): call it just before making that promise, and `handed()` once it
 * is made. The caller's await of it, or of whatever wraps it, gets `c` (see above).
 */
export function handToCaller(c: Ctx): void {
  carry();
  const id = executionAsyncId();
  let run = current;
  if (run === undefined || run.id !== id) {
    run = { id, fresh: undefined, next: 1, left: 0, handed: [], wanting: undefined, recording: false };
    current = run;
  }
  const h: Handed = { ctx: c, run, since: 0, carriers: new Set(), wrapped: false, decided: false };
  run.handed.push(h);
  run.wanting = h;
  run.recording = false;
}

/** acquire()'s promise is made: what the run makes from now on may be the caller's. */
export function handed(): void {
  const run = current;
  if (run === undefined || run.id !== executionAsyncId()) return;
  run.wanting = undefined;
  run.recording = true;
  run.left = FRESH_MAX;
  run.handed[run.handed.length - 1]!.since = run.next - 1;
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
  // A wrapped acquisition that waited: its wrappers settle now, in the microtasks after it.
  if (c.wrapped) handing();
}

/** Records that `c` gave an RLock back. */
export function gaveLock(c: Ctx): void {
  c.holding--;
  if (--holdings === 0) carryLess();
}
