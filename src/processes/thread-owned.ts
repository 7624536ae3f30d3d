/**
 * The child processes that worker threads started, in a table every concur thread of
 * this process shares, so that a thread's spawner can end them when the thread is
 * stopped from outside (Thread.terminate, a thread-pool worker's timeout or abort).
 *
 *   thread T: Process.start ─► own(pid)  [pid, T, T's spawner, ...]  ◄── 'exit' of the child: disown
 *   T's spawner: T 'exit' ─► endOrphans(T): every pid whose chain holds T: SIGKILL, then reap
 *
 * Why: a child is reaped by the event loop that spawned it. A thread that ends normally
 * has waited for its children (runTarget, stopDaemons), but a terminated thread's loop is
 * torn down with its process handles: its children lost their parent's IPC (and exited,
 * unless busy in synchronous code, where they ran on unseen) and stayed zombies of this
 * process for as long as it ran. They end with the thread, daemon or not, as a killed
 * process's children end with it; reaping them takes the native part (Node has no
 * waitpid): without it they are killed and stay zombies until the program exits.
 *
 * A row holds the pid and the chain of threads it belongs to, nearest first (the owner,
 * its spawner, ...), so that a nested thread's children are found when an ancestor is
 * stopped (Node stops the nested threads with it, and their own 'exit' listeners never
 * run). A chain deeper than the row keeps its nearest threads and its outermost one: a
 * thread stopped in the middle of such a chain leaves the children of the deepest ones
 * until their outermost thread ends.
 */
import { readFileSync } from 'node:fs';
import { isMainThread, threadId, workerData } from 'node:worker_threads';
import { native } from '../sync/shm.js';

const ROWS = 1024;
const WIDTH = 8; // the pid, then up to 7 thread ids
/** The key under which a thread finds the table and its chain in its workerData. */
export const OWNED_KEY = '$concurThreadOwned';

interface Given {
  table: SharedArrayBuffer;
  chain: number[];
}

const given = !isMainThread && workerData !== null && typeof workerData === 'object' ? ((workerData as Record<string, unknown>)[OWNED_KEY] as Given | undefined) : undefined;
let table: Int32Array | undefined = given && new Int32Array(given.table);
/**
 * This thread and its spawners, nearest first (empty in the main thread, whose loop lives
 * as long as the process). Deeper than a row holds: the nearest, and the outermost (the
 * thread the main thread started, which ends every thread below it).
 */
const chain: number[] = isMainThread ? [] : fit([threadId, ...(given?.chain ?? [])]);

function fit(full: number[]): number[] {
  return full.length <= WIDTH - 1 ? full : [...full.slice(0, WIDTH - 2), full[full.length - 1]!];
}

function rows(): Int32Array {
  return (table ??= new Int32Array(new SharedArrayBuffer(ROWS * WIDTH * 4)));
}

/** What a thread about to start gets in its workerData, under OWNED_KEY. */
export function ownedForThread(): Given {
  return { table: rows().buffer as SharedArrayBuffer, chain };
}

/**
 * Records a child this thread just started; returns the function that forgets it, for
 * its 'exit'. Nothing in the main thread, nor for a thread concur did not start (it has
 * no table from its spawner, so nobody would look).
 */
export function own(pid: number): () => void {
  if (given === undefined) return () => {};
  const t = rows();
  for (let r = 0; r < ROWS; r++) {
    const at = r * WIDTH;
    if (Atomics.compareExchange(t, at, 0, -1) !== 0) continue;
    for (let i = 1; i < WIDTH; i++) Atomics.store(t, at + i, chain[i - 1] ?? 0);
    Atomics.store(t, at, pid);
    return () => {
      // Forgotten before anything else runs: the pid may be another process's soon.
      if (Atomics.load(t, at) === pid) {
        for (let i = 1; i < WIDTH; i++) Atomics.store(t, at + i, 0);
        Atomics.store(t, at, 0);
      }
    };
  }
  return () => {}; // a full table: this child is left to its own exit on disconnect, as before
}

/**
 * After the thread `tid` has exited: kills and reaps the children it (or a thread it
 * started) left, which no event loop will reap now. A thread that ended normally left none.
 */
export function endOrphans(tid: number): void {
  if (table === undefined) return;
  const t = table;
  for (let r = 0; r < ROWS; r++) {
    const at = r * WIDTH;
    const pid = Atomics.load(t, at);
    if (pid <= 0) continue;
    let mine = false;
    for (let i = 1; i < WIDTH && !mine; i++) mine = Atomics.load(t, at + i) === tid;
    if (!mine || Atomics.compareExchange(t, at, pid, -1) !== pid) continue;
    // Still ours (a child of this process), so the pid was not reused by another.
    if (parentOf(pid) === process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      native?.reapChild?.(pid);
    }
    for (let i = 1; i < WIDTH; i++) Atomics.store(t, at + i, 0);
    Atomics.store(t, at, 0);
  }
}

/** The parent of `pid` (field 4 of /proc/<pid>/stat), a zombie's too; undefined once it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The name (field 2) may hold spaces and parentheses: count from the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
