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
 * Down a Pipe, each ViewRef is also counted in its region's header (+1 here, -1 where it
 * is mapped), and this process keeps the region open until the count is back to 0.
 */
import { isShared, kindOf } from './shared.js';
import { futexWait, futexWaitAsync, isViewRef, native, nativeMissing, REGION_HEADER_BYTES, UNMAPPED_CROSSINGS, viewRef, type ViewRef } from './shm.js';

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
 * sender may drop the primitive, or return and exit, at once: so each region the
 * crossing refers to is counted in its header (shm.ts) and kept open here until the
 * receiver has mapped it, which it does as the message arrives (see pipe.ts).
 */
export interface PipeCrossing {
  /** True once the receiver will never map anything more: its process, or its end of the Pipe, is gone. */
  readonly receiverGone: () => boolean;
  /** How many references to regions this crossing counted (toSharedMemory adds them up). */
  counted: number;
}

/**
 * `value` as it crosses into another process as the same memory: a copy of its fields
 * with each typed array replaced by where to map it. Undefined when it cannot (its kind
 * stays a proxy, the native part is missing, or its memory is not in a region); the
 * first such primitive without the native part says why, once. A crossing down a Pipe
 * (`pipe`) is counted until its receiver has mapped it.
 */
export function toSharedMemory(value: object, pipe?: PipeCrossing): object | undefined {
  const refs: Array<[ViewRef, SharedArrayBuffer]> = [];
  const out = crossingForm(value, refs);
  // Counted only once the whole value can cross: a count nobody will take off would hold the region for nothing.
  if (out !== undefined && pipe !== undefined) {
    for (const [ref, buffer] of refs) {
      ref.ack = true;
      hold(ref.ino, buffer, pipe.receiverGone);
      pipe.counted++;
    }
  }
  return out;
}

/**
 * True when `form` (what a primitive crosses as) holds a reference whose mapping a sender
 * waits for: one counted here, or by the process this one hands it on for (a Pipe end
 * relayed through this process).
 */
export function carriesCount(form: unknown): boolean {
  if (form === null || typeof form !== 'object') return false;
  if (isViewRef(form)) return form.ack === true;
  if (!isShared(form)) return false;
  for (const v of Object.values(form)) if (carriesCount(v)) return true;
  return false;
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
 * that was never made. The memory is all it costs, so long; but not for ever, as one
 * count left by a receiver that took a region's first message and not its second would.
 */
const HOLD_MS = 10 * 60_000;
/** How often a wait for a mapping re-checks whether its receivers are gone (a wake-up comes at once). */
const RECHECK_MS = 250;

/** A region counted in crossings down Pipes, kept open here until its count is back to 0. */
interface Held {
  /** Strongly held: while it lives, so does this process's descriptor of the region, which the receiver opens. */
  readonly buffer: SharedArrayBuffer;
  readonly count: Int32Array;
  readonly receivers: Set<() => boolean>;
  until: number;
}

/** By inode: one region may have several buffers here (each mapping of a received one). */
const held = new Map<number, Held>();
let exitHooked = false;

function hold(ino: number, buffer: SharedArrayBuffer, receiverGone: () => boolean): void {
  let h = held.get(ino);
  const watched = h !== undefined;
  h ??= { buffer, count: new Int32Array(buffer, 0, REGION_HEADER_BYTES / 4), receivers: new Set(), until: 0 };
  Atomics.add(h.count, UNMAPPED_CROSSINGS, 1);
  h.receivers.add(receiverGone);
  h.until = performance.now() + HOLD_MS;
  if (!watched) {
    held.set(ino, h);
    void watch(ino, h);
  }
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', waitAtExit);
  }
}

/** True when `h` needs keeping no longer: mapped by all, or by all it will ever be. */
function settled(h: Held): boolean {
  if (Atomics.load(h.count, UNMAPPED_CROSSINGS) <= 0) return true;
  for (const gone of h.receivers) if (!gone()) return false;
  return true;
}

/** Keeps `h` until it is settled or its time is up; the wait on its count keeps no program alive (shm.cc). */
async function watch(ino: number, h: Held): Promise<void> {
  for (;;) {
    const n = Atomics.load(h.count, UNMAPPED_CROSSINGS);
    if (settled(h) || performance.now() >= h.until) {
      held.delete(ino);
      return;
    }
    await futexWaitAsync(h.count, UNMAPPED_CROSSINGS, n, RECHECK_MS);
  }
}

let exitDeadline: number | undefined;

/** On exit, before this process's descriptors close: each region sent is mapped, its receivers gone, or the bound passed. */
function waitAtExit(): void {
  const until = (exitDeadline ??= performance.now() + mappedWaitMs);
  for (const h of held.values()) {
    for (let n = Atomics.load(h.count, UNMAPPED_CROSSINGS); !settled(h); n = Atomics.load(h.count, UNMAPPED_CROSSINGS)) {
      const left = until - performance.now();
      if (left <= 0) return;
      futexWait(h.count, UNMAPPED_CROSSINGS, n, Math.min(left, RECHECK_MS));
    }
  }
}

/**
 * `waitAtExit` with the event loop free (a child process about to say it is done): a
 * receiver's end closing, or its process going, is heard while this waits. The bound
 * is shared with the exit's own wait, which then has nothing left to do.
 */
export async function crossingsMapped(): Promise<void> {
  if (held.size === 0) return;
  const until = (exitDeadline ??= performance.now() + mappedWaitMs);
  // Waits on the counts keep no program alive by themselves; this one must.
  const alive = setInterval(() => undefined, RECHECK_MS);
  try {
    for (const h of held.values()) {
      for (let n = Atomics.load(h.count, UNMAPPED_CROSSINGS); !settled(h); n = Atomics.load(h.count, UNMAPPED_CROSSINGS)) {
        const left = until - performance.now();
        if (left <= 0) return;
        await futexWaitAsync(h.count, UNMAPPED_CROSSINGS, n, Math.min(left, RECHECK_MS));
      }
    }
  } finally {
    clearInterval(alive);
  }
}
