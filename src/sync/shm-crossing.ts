/**
 * What crosses into another process as the same memory rather than as a proxy: the
 * primitives whose state is words that each operation changes atomically, or under a
 * lock that a process SIGKILLed inside is taken over from and repaired after (a
 * SharedQueue's journal, a Barrier's break; see internal-lock.ts). The ordered queues
 * move items within a stack under their lock, which has no such repair, so they stay
 * served by their owner.
 *
 *   Lock { _state: Int32Array over a region }  ─ toSharedMemory ─►  { kind brand, _state: ViewRef }
 *        ─ IPC (v8 serialization) ─►  reviveShared: prototype back, ViewRef ─ openView ─► Int32Array
 *
 * Down a Pipe, the form also carries a word of this process's memory that the receiver
 * sets once it has mapped everything (MAPPED_FIELD), and this process keeps the regions
 * open until it does:
 *
 *   send: form + $mapped ─► pending { word, regions } ─── sweep / exit: word set? ─► let go
 *   arrive: reviveShared maps every region, then the word ─► store 1, wake
 */
import { isShared, kindOf } from './shared.js';
import { futexWait, futexWaitAsync, MAPPED_FIELD, native, nativeMissing, sharedWords, viewRef, type ViewRef } from './shm.js';

/** The kinds that cross into processes as shared memory where the native part is loaded. */
export const IN_MEMORY: ReadonlySet<string> = new Set(['Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Event', 'Value', 'SharedArray', 'SharedQueue', 'Condition', 'Barrier']);

/**
 * What crossed as memory, keyed by the form it crossed as: the receiver maps the regions
 * through /proc/<this pid>/fd, which must still be open when it gets there, so the
 * primitive lives as long as what is on its way does (a pool task's arguments live until
 * its result comes back), even when the caller kept no reference to it.
 */
const crossedAs = new WeakMap<object, object>();

let told = false;
/** Set (to "proxies") by `_crossAsProxies`, and so inherited by the child processes started after. */
const CROSSING_ENV = 'CONCUR_TEST_CROSS_AS';

/**
 * @internal For tests of the owner-served proxy itself: every primitive of this process,
 * and of the child processes it starts from now on, crosses as a proxy (true) or as
 * memory where it can (false).
 */
export function _crossAsProxies(on: boolean): void {
  if (on) process.env[CROSSING_ENV] = 'proxies';
  else delete process.env[CROSSING_ENV];
}

/**
 * A crossing down a Pipe into another process. Nothing keeps a Pipe's message alive on
 * its way (a Process's or a pool task's arguments are kept by their sender), and the
 * sender may drop the primitive, or return and exit, at once: so the crossing carries a
 * word of this process's own the receiver sets once it has mapped the primitive, which it
 * does as the message arrives (see pipe.ts), and its regions are kept open here until then.
 */
export interface PipeCrossing {
  /** True once the receiver will never map anything more: its process, or its end of the Pipe, is gone. */
  readonly receiverGone: () => boolean;
  /** How many crossings this send asked to be told of (toSharedMemory adds them up). */
  counted: number;
}

/**
 * `value` as it crosses into another process as the same memory: a copy of its fields
 * with each typed array replaced by where to map it. Undefined when it cannot (its kind
 * stays a proxy, the native part is missing, or its memory is not in a region); the
 * first such primitive without the native part says why, once. A crossing down a Pipe
 * (`pipe`) is kept here until its receiver says it has mapped it.
 */
export function toSharedMemory(value: object, pipe?: PipeCrossing): object | undefined {
  const refs: Array<[ViewRef, SharedArrayBuffer]> = [];
  const out = crossingForm(value, refs) as Record<string, unknown> | undefined;
  // A form relayed through this process keeps its sender's word: the sender is the one to tell.
  if (out !== undefined && pipe !== undefined && refs.length > 0 && !(MAPPED_FIELD in out)) {
    const word = sharedWords(1);
    out[MAPPED_FIELD] = viewRef(word);
    keepUntilMapped(word, refs.map(([, buffer]) => buffer), pipe.receiverGone);
    pipe.counted++;
  }
  return out;
}

/**
 * True when `form` (what a primitive crosses as) asks its receiver to tell a sender it has
 * mapped it: one made here, or by the process this one hands it on for (a Pipe end relayed
 * through this process).
 */
export function carriesCount(form: unknown): boolean {
  return isShared(form) && MAPPED_FIELD in (form as object);
}

function crossingForm(value: object, refs: Array<[ViewRef, SharedArrayBuffer]>): object | undefined {
  const kind = kindOf(value);
  if (kind === undefined || !IN_MEMORY.has(kind) || process.env[CROSSING_ENV] === 'proxies') return undefined;
  if (native === undefined) {
    if (!told && process.env.CONCUR_NO_NATIVE !== '1') {
      told = true;
      process.emitWarning(`concur: ${nativeMissing}; primitives cross into processes as proxies served by their owner (slower)`, { code: 'CONCUR_NO_NATIVE' });
    }
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (ArrayBuffer.isView(v)) {
      const ref = viewRef(v);
      if (ref === undefined) return undefined;
      refs.push([ref, v.buffer as SharedArrayBuffer]);
      out[k] = ref;
    } else if (isShared(v)) {
      const inner = crossingForm(v as object, refs);
      if (inner === undefined) return undefined;
      out[k] = inner;
    } else {
      out[k] = v;
    }
  }
  crossedAs.set(out, value);
  return out;
}

/**
 * How long, at most, a process that ends waits for the receivers of what it sent down
 * Pipes to map it. A receiver whose event loop is free maps a message within moments of
 * its arrival; one stuck in a long synchronous stretch, or one that will never look,
 * must not hold its sender's exit for ever (and a child's exit holds its parent's join).
 * Past it, the receiver's recv() rejects with "cannot map the shared memory".
 */
export const MAPPED_WAIT_MS = 5000;
/** The bound above; a test seam (CONCUR_TEST_MAPPED_WAIT_MS) sets another for its children. */
const mappedWaitMs = Number(process.env.CONCUR_TEST_MAPPED_WAIT_MS) > 0 ? Number(process.env.CONCUR_TEST_MAPPED_WAIT_MS) : MAPPED_WAIT_MS;
/**
 * How long a living process keeps a region for a receiver that is still there but has
 * not mapped it: its event loop blocked that long, or the message waiting for a Pipe end
 * that was never made. The memory is all it costs, so long; but not for ever.
 */
const HOLD_MS = 10 * 60_000;
/** How often what was mapped is let go, and a wait for a mapping re-checks whether its receiver is gone (a wake-up comes at once). */
const RECHECK_MS = 250;

/** A crossing down a Pipe whose receiver has not said yet that it mapped it. */
interface Pending {
  /** Set to 1 by the receiver (shm.ts acknowledgeMapped). */
  readonly word: Int32Array;
  /** Strongly held: while they live, so do this process's descriptors of the regions, which the receiver opens. */
  readonly buffers: SharedArrayBuffer[];
  readonly receiverGone: () => boolean;
  readonly until: number;
}

const pending = new Set<Pending>();
let sweeper: ReturnType<typeof setInterval> | undefined;
let exitHooked = false;

function keepUntilMapped(word: Int32Array, buffers: SharedArrayBuffer[], receiverGone: () => boolean): void {
  pending.add({ word, buffers, receiverGone, until: performance.now() + HOLD_MS });
  // A sweep now and then lets go of what was mapped: memory is all a late one costs, and
  // a wait per crossing would take one of the waiter threads that acquire() shares.
  if (sweeper === undefined) {
    sweeper = setInterval(sweep, RECHECK_MS);
    sweeper.unref();
  }
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', waitAtExit);
  }
}

/** True when `p` needs keeping no longer: mapped, or its receiver gone. */
const settled = (p: Pending): boolean => Atomics.load(p.word, 0) !== 0 || p.receiverGone();

function sweep(): void {
  const now = performance.now();
  for (const p of pending) if (settled(p) || now >= p.until) pending.delete(p);
  if (pending.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

let exitDeadline: number | undefined;

/** On exit, before this process's descriptors close: each crossing sent is mapped, its receiver gone, or the bound passed. */
function waitAtExit(): void {
  const until = (exitDeadline ??= performance.now() + mappedWaitMs);
  for (const p of pending) {
    while (!settled(p)) {
      const left = until - performance.now();
      if (left <= 0) return;
      futexWait(p.word, 0, 0, Math.min(left, RECHECK_MS));
    }
  }
}

/**
 * `waitAtExit` with the event loop free (a child process about to say it is done): a
 * receiver's end closing, or its process going, is heard while this waits. The bound
 * is shared with the exit's own wait, which then has nothing left to do.
 */
export async function crossingsMapped(): Promise<void> {
  sweep();
  if (pending.size === 0) return;
  const until = (exitDeadline ??= performance.now() + mappedWaitMs);
  // Waits on the words keep no program alive by themselves; this one must.
  const alive = setInterval(() => undefined, RECHECK_MS);
  try {
    for (const p of pending) {
      while (!settled(p)) {
        const left = until - performance.now();
        if (left <= 0) return;
        await futexWaitAsync(p.word, 0, 0, Math.min(left, RECHECK_MS));
      }
    }
  } finally {
    clearInterval(alive);
  }
}
