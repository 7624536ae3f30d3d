/**
 * Memory every process of a concur program can map, and waits that sleep on it in the
 * kernel (src/native/shm.cc does the system calls; this is the rest).
 *
 *   new Lock() ─ allocWords ─► slab (a memfd region, 1 MiB, bump-allocated per thread)
 *        │                         │ crosses into a child process as {pid, fd, inode, size, offset}
 *        ▼                         ▼
 *   waitSync / waitAsync ─► futex on the word  ◄── wake from any thread of any process
 *
 * A region's memory lives while any view over it lives in any process (the kernel frees
 * a memfd once nobody maps it or holds its descriptor), so a SIGKILLed process leaves
 * nothing behind. Where the addon cannot load (another OS or CPU, no build) or
 * CONCUR_NO_NATIVE=1, `native` is undefined and primitives keep plain SharedArrayBuffers,
 * served across processes by their owner as proxies.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions (see src/native/shm.cc). */
interface Native {
  createRegion(size: number): SharedArrayBuffer;
  openRegion(pid: number, fd: number, ino: number, size: number): SharedArrayBuffer;
  regionOf(buffer: SharedArrayBuffer): [fd: number, ino: number, size: number] | undefined;
  wait(buffer: SharedArrayBuffer, byteIndex: number, expected: number, ms: number): 0 | 1 | 2;
  wake(buffer: SharedArrayBuffer, byteIndex: number, count: number): number;
  waitAsync(buffer: SharedArrayBuffer, byteIndex: number, expected: number, ms: number, done: (result: 0 | 1 | 2) => void): void;
  /** Reaps the child `pid` once it has exited (on a thread of its own); absent from an addon built before it. */
  reapChild?(pid: number): void;
  /** SIGKILLs this process once its parent is no longer `ppid`, checked every `ms` (on a thread of its own); absent from an addon built before it. */
  watchParent?(ppid: number, ms: number): void;
}

/** Why the addon is not in use (undefined when it is). */
export let nativeMissing: string | undefined;

function load(): Native | undefined {
  if (process.env.CONCUR_NO_NATIVE === '1') {
    nativeMissing = 'CONCUR_NO_NATIVE=1';
    return undefined;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    nativeMissing = `no native part for ${process.platform}-${process.arch}`;
    return undefined;
  }
  // From src/sync (tsx), dist/ or dist/chunks (the bundle): the package root's build/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    const file = join(dir, 'build', 'Release', 'concur_shm.node');
    if (!existsSync(file)) continue;
    try {
      return createRequire(import.meta.url)(file) as Native;
    } catch (err) {
      nativeMissing = `the native part did not load (${(err as Error).message})`;
      return undefined;
    }
  }
  nativeMissing = 'the native part was not built (npm install runs scripts/build-native.mjs)';
  return undefined;
}

/** The addon, or undefined where shared memory between processes is not available. */
export const native: Native | undefined = load();

const SLAB_BYTES = 1 << 20;
/** A request at least this large gets a region of its own rather than a slab's room. */
const OWN_REGION_BYTES = SLAB_BYTES / 8;
const PAGE = 4096;

let slab: SharedArrayBuffer | undefined;
let used = 0;

/**
 * Room for `bytes` bytes (aligned to 8) in shared memory: in a region other processes
 * can map when the addon is here, in a plain SharedArrayBuffer otherwise. Zero-filled.
 */
export function allocShared(bytes: number): { buffer: SharedArrayBuffer; byteOffset: number } {
  if (native === undefined) return { buffer: allocating(bytes, () => new SharedArrayBuffer(bytes)), byteOffset: 0 };
  if (bytes >= OWN_REGION_BYTES) {
    const size = Math.max(PAGE, Math.ceil(bytes / PAGE) * PAGE);
    const buffer = allocating(bytes, () => native!.createRegion(size));
    regionCache.set(buffer, true);
    return { buffer, byteOffset: 0 };
  }
  const size = Math.max(8, Math.ceil(bytes / 8) * 8);
  if (slab === undefined || used + size > SLAB_BYTES) {
    // The old slab lives on while any primitive in it does.
    slab = native.createRegion(SLAB_BYTES);
    regionCache.set(slab, true);
    used = 0;
  }
  const byteOffset = used;
  used += size;
  return { buffer: slab, byteOffset };
}

/**
 * `make()`, whose failure says how many bytes were asked for; a size the system cannot
 * give is a RangeError with or without the native part (V8's own is one, the kernel's
 * EINVAL, ENOMEM or ENOSPC were a plain Error).
 */
function allocating(bytes: number, make: () => SharedArrayBuffer): SharedArrayBuffer {
  try {
    return make();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const tooLarge = err instanceof RangeError || /invalid argument|cannot allocate|no space|too large|allocation failed/i.test(reason);
    const Kind = tooLarge ? RangeError : Error;
    throw new Kind(`cannot allocate ${bytes} bytes of shared memory: ${reason}`, { cause: err });
  }
}

/** An Int32Array of `words` words from allocShared. */
export function sharedWords(words: number): Int32Array {
  const { buffer, byteOffset } = allocShared(words * 4);
  return new Int32Array(buffer, byteOffset, words);
}

const regionCache = new WeakMap<SharedArrayBuffer, boolean>();

/** True when `buffer` is memory other processes can map (waits on it go through the futex). */
export function isRegion(buffer: ArrayBufferLike): boolean {
  if (native === undefined || !(buffer instanceof SharedArrayBuffer)) return false;
  let r = regionCache.get(buffer);
  if (r === undefined) regionCache.set(buffer, (r = native.regionOf(buffer) !== undefined));
  return r;
}

/** A typed array over a region, as it crosses into another process. */
export interface ViewRef {
  $shmView: string; // the typed array's constructor name
  pid: number;
  fd: number;
  ino: number;
  size: number;
  byteOffset: number;
  length: number;
}

const VIEWS: Record<string, new (b: SharedArrayBuffer, offset: number, length: number) => ArrayBufferView> = {
  Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};

/** How another process finds the memory under `view`; undefined when it is not in a region. */
export function viewRef(view: ArrayBufferView): ViewRef | undefined {
  if (native === undefined || !(view.buffer instanceof SharedArrayBuffer)) return undefined;
  const where = native.regionOf(view.buffer);
  if (where === undefined) return undefined;
  const name = view.constructor.name;
  if (!(name in VIEWS)) return undefined;
  const [fd, ino, size] = where;
  const length = (view as unknown as { length: number }).length;
  return { $shmView: name, pid: process.pid, fd, ino, size, byteOffset: view.byteOffset, length };
}

const isCount = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** True for a ViewRef (an object that only looks like one, from a peer that lies, is refused by openView). */
export function isViewRef(value: unknown): value is ViewRef {
  return value !== null && typeof value === 'object' && typeof (value as ViewRef).$shmView === 'string';
}

function checkRef(ref: ViewRef): void {
  const ctor = Object.hasOwn(VIEWS, ref.$shmView) ? VIEWS[ref.$shmView]! : undefined;
  const fields = [ref.pid, ref.fd, ref.ino, ref.size, ref.byteOffset, ref.length];
  const fits =
    ctor !== undefined &&
    fields.every(isCount) &&
    ref.byteOffset % (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT === 0 &&
    ref.byteOffset + ref.length * (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT <= ref.size;
  if (!fits) throw new TypeError(`not a reference to shared memory: ${JSON.stringify(ref)}`);
}

/** The typed array a ViewRef stands for, over this process's mapping of its region. */
export function openView(ref: ViewRef): ArrayBufferView {
  if (native === undefined) {
    throw new Error(`a primitive in shared memory arrived in process ${process.pid}, which cannot map it: ${nativeMissing}`);
  }
  checkRef(ref);
  let buffer: SharedArrayBuffer;
  try {
    buffer = native.openRegion(ref.pid, ref.fd, ref.ino, ref.size);
  } catch (err) {
    const why = (err as Error).message;
    // Out of descriptors or memory here: the sender may be alive and well.
    const here = /Too many open files|Cannot allocate memory/.test(why);
    throw new Error(
      `cannot map the shared memory of a primitive sent by process ${ref.pid}: ${why} ` +
        (here ? `(process ${process.pid}, the receiver, ran out of file descriptors or memory)` : '(the sender exited, or let the primitive go, before this process received it)'),
    );
  }
  regionCache.set(buffer, true);
  return new VIEWS[ref.$shmView]!(buffer, ref.byteOffset, ref.length);
}

/**
 * The field of a primitive's crossing form (a Pipe message's) holding a word of its
 * sender's memory, which the receiver sets once it has mapped the rest (shm-crossing.ts).
 */
export const MAPPED_FIELD = '$mapped';

/**
 * Tells a sender that this process has mapped what it sent: sets the word `ref` stands
 * for and wakes the sender. What cannot be mapped (the sender is gone) needs no word.
 */
export function acknowledgeMapped(ref: unknown): void {
  if (!isViewRef(ref)) return;
  let word: ArrayBufferView;
  try {
    word = openView(ref);
  } catch {
    return;
  }
  if (!(word instanceof Int32Array) || word.length !== 1) return; // a peer that lies: nothing to tell
  Atomics.store(word, 0, 1);
  futexWake(word, 0, 1);
}

/** Waits in the kernel while the word at view[index] holds `expected`: 0 woken, 1 it did not hold it, 2 timed out. */
export function futexWait(view: Int32Array, index: number, expected: number, ms: number): 0 | 1 | 2 {
  return native!.wait(view.buffer as SharedArrayBuffer, view.byteOffset + index * 4, expected, ms);
}

/** Waits of this thread in flight, by word and expected value: the coroutines waiting on one word share one. */
const inFlight = new WeakMap<SharedArrayBuffer, Map<string, { until: number; done: Promise<0 | 1 | 2> }>>();

/**
 * `futexWait` on a waiter thread: the event loop runs on meanwhile. A wait on the same
 * word for the same value that ends no later than this one's slice is joined rather
 * than doubled (its end is a wake-up to re-check, like any other).
 */
export function futexWaitAsync(view: Int32Array, index: number, expected: number, ms: number): Promise<0 | 1 | 2> {
  const buffer = view.buffer as SharedArrayBuffer;
  const byte = view.byteOffset + index * 4;
  const key = `${byte}:${expected}`;
  let waits = inFlight.get(buffer);
  const until = performance.now() + ms;
  const joined = waits?.get(key);
  if (joined !== undefined && joined.until <= until) return joined.done;
  if (waits === undefined) inFlight.set(buffer, (waits = new Map()));
  const entry = {
    until,
    done: new Promise<0 | 1 | 2>((resolve) =>
      native!.waitAsync(buffer, byte, expected, ms, (r) => {
        if (waits!.get(key) === entry) waits!.delete(key);
        resolve(r);
      }),
    ),
  };
  waits.set(key, entry);
  return entry.done;
}

/** Wakes up to `count` waiters, in any process, on the word at view[index]. */
export function futexWake(view: Int32Array, index: number, count: number): void {
  native!.wake(view.buffer as SharedArrayBuffer, view.byteOffset + index * 4, count);
}
