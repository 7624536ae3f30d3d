/**
 * Owner ids unique across a program's process tree, for primitives in memory that
 * several processes map: a Lock's holder word must name a thread of one process, and
 * whoever finds it held must be able to ask whether that thread, or its whole process,
 * is gone (a SIGKILLed holder is taken over, as a robust futex's owner is).
 *
 *   root process: createRegion ──► CONCUR_SHM_TREE=pid:fd:ino:size ──► every child (env)
 *   each child:   openRegion(pid, fd) and rewrites CONCUR_SHM_TREE with its own pid:fd
 *   each thread:  id = ++table[NEXT]; table[id] = {pid, process start time, threadId}
 *
 * The start time tells a process from a later one that reused its pid.
 */
import { readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { native } from './shm.js';

/** The environment variable that carries the tree's table to child processes. */
export const TREE_ENV = 'CONCUR_SHM_TREE';

const MAX_IDS = 1 << 20;
const NEXT = 0;
const FIRST = 4; // entries start here: [pid, start time, threadId, unused] per id
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

/** This thread's owner id in the tree, or undefined without shared memory (owner ids are then threadId + 1). */
export const treeOwnerId: number | undefined = (() => {
  if (tree === undefined) return undefined;
  const id = Atomics.add(tree, NEXT, 1) + 1;
  if (id >= MAX_IDS) throw new Error(`more than ${MAX_IDS} threads used concur's shared memory in one program`);
  const e = FIRST + id * 4;
  Atomics.store(tree, e + 1, myStart);
  Atomics.store(tree, e + 2, threadId);
  Atomics.store(tree, e, process.pid);
  return id;
})();

/** The tree's table, for child processes' environment. */
export function treeEnv(): Record<string, string> {
  const v = process.env[TREE_ENV];
  return v === undefined ? {} : { [TREE_ENV]: v };
}

/** Where owner `id` lives: its process and thread; undefined for an id not in the tree. */
export function ownerOf(id: number): { pid: number; start: number; tid: number } | undefined {
  if (tree === undefined || id <= 0 || id >= MAX_IDS) return undefined;
  const e = FIRST + id * 4;
  const pid = Atomics.load(tree, e);
  if (pid === 0) return undefined;
  return { pid, start: Atomics.load(tree, e + 1), tid: Atomics.load(tree, e + 2) };
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
