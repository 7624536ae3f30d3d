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
 */
import { isShared, kindOf } from './shared.js';
import { native, nativeMissing, viewRef } from './shm.js';

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
 * `value` as it crosses into another process as the same memory: a copy of its fields
 * with each typed array replaced by where to map it. Undefined when it cannot (its kind
 * stays a proxy, the native part is missing, or its memory is not in a region); the
 * first such primitive without the native part says why, once.
 */
export function toSharedMemory(value: object): object | undefined {
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
      out[k] = ref;
    } else if (isShared(v)) {
      const inner = toSharedMemory(v as object);
      if (inner === undefined) return undefined;
      out[k] = inner;
    } else {
      out[k] = v;
    }
  }
  crossedAs.set(out, value);
  return out;
}
