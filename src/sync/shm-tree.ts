/**
 * Owner ids unique across a program's process tree, for primitives in memory that
 * several processes map: a Lock's holder word must name a thread of one process, and
 * whoever finds it held must be able to ask whether that thread, or its whole process,
 * is gone (a SIGKILLed holder is taken over, as a robust futex's owner is).
 *
 *   root process: createRegion ──► CONCUR_SHM_TREE=pid:fd:ino:size ──► every child (env)
 *   each child:   openRegion(pid, fd) and rewrites CONCUR_SHM_TREE with its own pid:fd
 *   each thread:  slot = ++table[NEXT]; table[slot] = {pid, process start time, threadId, generation}
 *   table full:   a slot whose process (or, in this process, thread) is gone is taken again,
 *                 its generation moved on; id = generation * MAX_IDS + slot
 *
 * The start time tells a process from a later one that reused its pid; the generation
 * tells a slot's new owner from the dead one whose id a lock may still record.
 */
import { readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { native } from './shm.js';
import { isThreadDead } from './thread-life.js';

/** The environment variable that carries the tree's table to child processes. */
export const TREE_ENV = 'CONCUR_SHM_TREE';

const MAX_IDS = 1 << 20;
/** Generations of a slot: ids stay below 1023 * MAX_IDS, under REMOTE_OWNER_BASE and DEAD_REMOTE (owner.ts). */
const GENERATIONS = 1023;
const NEXT = 0;
/** Where the next search for a slot to take again starts. */
const CURSOR = 1;
const FIRST = 4; // entries start here: [pid, start time, threadId, generation] per slot
/** An entry's pid while a process takes its slot again. */
const TAKING = -1;
const TREE_BYTES = (FIRST + 4 * MAX_IDS) * 4;

/** startTime's answer when /proc could not be read for another reason than the process being gone. */
const UNKNOWN = -1;

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat),
 * undefined when it is gone (or a zombie), UNKNOWN when this process cannot tell (out of
 * file descriptors, say): a holder then counts as alive, never taken over.
 */
function startTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH' ? undefined : UNKNOWN;
  }
  // The name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return Number(fields[19]) | 0;
}

function openTree(): Int32Array | undefined {
  if (native === undefined) return undefined;
  const given = process.env[TREE_ENV];
  let buffer: SharedArrayBuffer | undefined;
  if (given !== undefined) {
    const [pid, fd, ino, size] = given.split(':').map(Number) as [number, number, number, number];
    try {
      buffer = native.openRegion(pid, fd, ino, size);
    } catch {
      // The process that passed it is gone: this process starts a tree of its own. Its
      // ids may then repeat ids of the old tree, so nothing of that tree is mapped here
      // (a primitive from it fails to map, with its own error).
      buffer = undefined;
    }
  }
  buffer ??= native.createRegion(TREE_BYTES);
  const [fd, ino, size] = native.regionOf(buffer)!;
  // Children find the table through this process, which holds it as long as it lives.
  process.env[TREE_ENV] = `${process.pid}:${fd}:${ino}:${size}`;
  return new Int32Array(buffer);
}

const tree = openTree();
const myStart = tree === undefined ? 0 : (startTime(process.pid) ?? 0);

/** The tree's table, for child processes' environment. */
export function treeEnv(): Record<string, string> {
  const v = process.env[TREE_ENV];
  return v === undefined ? {} : { [TREE_ENV]: v };
}

/**
 * Where owner `id` lives: its process and thread; undefined for an id not in the tree.
 * `recycled` says its slot has been taken again since (the owner is gone for good).
 */
export function ownerOf(id: number): { pid: number; start: number; tid: number; recycled: boolean } | undefined {
  if (tree === undefined || id <= 0) return undefined;
  const slot = id % MAX_IDS;
  const gen = (id - slot) / MAX_IDS;
  if (slot === 0 || gen >= GENERATIONS) return undefined;
  const e = FIRST + slot * 4;
  const before = Atomics.load(tree, e + 3);
  const pid = Atomics.load(tree, e);
  if (pid === 0) return undefined;
  const start = Atomics.load(tree, e + 1);
  const tid = Atomics.load(tree, e + 2);
  const recycled = pid === TAKING || before !== gen || Atomics.load(tree, e + 3) !== gen;
  return { pid, start, tid, recycled };
}

const ALIVE_FOR_MS = 50;
const checked = new Map<number, number>(); // pid -> when last seen alive

/**
 * True once process `pid` (started at `start`) has exited, been reaped or become a
 * zombie. Asked on every wake of a wait on a held lock, so a live answer is trusted
 * for ALIVE_FOR_MS.
 */
export function isProcessGone(pid: number, start: number): boolean {
  if (pid === process.pid) return false;
  const now = performance.now();
  const seen = checked.get(pid);
  if (seen !== undefined && now - seen < ALIVE_FOR_MS) return false;
  const t = startTime(pid);
  if (t === UNKNOWN) return false;
  if (t === undefined || t !== start) {
    checked.delete(pid);
    return true;
  }
  if (checked.size > 1024) checked.clear();
  checked.set(pid, now);
  return false;
}

/**
 * A check that process `pid`, the one running now (not a later one given its pid), is
 * gone: exited, killed, or a zombie nobody reaped. It says "alive" while this process
 * cannot tell (/proc unreadable for another reason).
 */
export function goneCheck(pid: number): () => boolean {
  const start = startTime(pid);
  if (start === undefined) return () => true;
  if (start === UNKNOWN) return () => false;
  return () => isProcessGone(pid, start);
}

/** True when the thread or process that holds slot entry `e` is gone for good. */
function entryGone(e: number, pid: number): boolean {
  // This pid, but another start: an earlier process the kernel gave it to.
  if (pid === process.pid) return Atomics.load(tree!, e + 1) !== myStart || isThreadDead(Atomics.load(tree!, e + 2));
  return isProcessGone(pid, Atomics.load(tree!, e + 1));
}

/**
 * A slot of the full table whose holder is gone, taken for this thread with its next
 * generation; undefined when every holder lives. A long-running program starts more than
 * MAX_IDS processes and threads over its life (a pool that replaces its workers, a
 * process per job), never that many at once.
 */
function takeAgain(t: Int32Array): number | undefined {
  const from = Atomics.load(t, CURSOR);
  for (let n = 1; n < MAX_IDS; n++) {
    const slot = 1 + ((from + n - 1) % (MAX_IDS - 1));
    const e = FIRST + slot * 4;
    const gen = Atomics.load(t, e + 3);
    const pid = Atomics.load(t, e);
    if (pid <= 0 || !entryGone(e, pid)) continue;
    if (Atomics.compareExchange(t, e, pid, TAKING) !== pid) continue;
    // Taken again, and finished, by another process meanwhile whose pid is the dead one's: not ours.
    if (Atomics.load(t, e + 3) !== gen) {
      Atomics.store(t, e, pid);
      continue;
    }
    const next = (gen + 1) % GENERATIONS;
    Atomics.store(t, e + 3, next);
    Atomics.store(t, e + 1, myStart);
    Atomics.store(t, e + 2, threadId);
    Atomics.store(t, e, process.pid);
    Atomics.store(t, CURSOR, slot);
    return next * MAX_IDS + slot;
  }
  return undefined;
}

/** This thread's owner id in the tree, or undefined without shared memory (owner ids are then threadId + 1). */
export const treeOwnerId: number | undefined = (() => {
  if (tree === undefined) return undefined;
  // Past the end the counter stays put: it must never wrap round to slots in use.
  const id = Atomics.load(tree, NEXT) < MAX_IDS ? Atomics.add(tree, NEXT, 1) + 1 : MAX_IDS;
  if (id >= MAX_IDS) {
    const again = takeAgain(tree);
    if (again === undefined) throw new Error(`more than ${MAX_IDS - 1} threads and processes used concur's shared memory in one program, and no slot of one that is gone can be taken again here`);
    return again;
  }
  const e = FIRST + id * 4;
  Atomics.store(tree, e + 1, myStart);
  Atomics.store(tree, e + 2, threadId);
  Atomics.store(tree, e, process.pid);
  return id;
})();
