/**
 * The messages between a pool and its workers. Every message is one flat array, so
 * a batch of a thousand tasks is a single structured clone with no per-task objects:
 *
 *   pool → worker   [TASKS, defs | null, seq, fnId, head, ...values, fnId, head, ...values, ...]
 *                   seq: the first task's; the others follow it (nextSeq)
 *                   head: the task's flags, and for a call (no flag) its argument count
 *                   times FLAG_SPAN: a call's arguments come inline, a chunk as one value
 *                   defs: [fnId, FunctionSpec, fnId, FunctionSpec, ...], sent once per worker
 *                   [STOP]                      end (idle): once the children your tasks started have, as a program's main does
 *   worker → pool   [READY]                     initializer done, send work
 *                   [INIT_FAILED, error]        initializer threw; the pool is broken
 *                   [RESULTS, busyUs, seq, code, value, seq, code, value, ...]
 *                   [RETIRE]                    over its memory ceiling: finish what you sent, then replace me
 *                   [LOADING, fnId]             importing the module of the next task: a death now is a load death
 *                   [LOADED]                    that import is over (a failure comes as LOAD_FAILED)
 *
 * Tasks run, and their results return, in the order they were sent. Numbers stay whole
 * where they can (a call's arguments inline, busy time in microseconds): an array with
 * no nested arrays and no fractions is the cheapest to clone, both ways.
 */
/** Pool → worker: a batch of tasks. */
export const TASKS = 1;
/** Worker → pool: started (and initializer done); send work. */
export const READY = 2;
/** Worker → pool: the initializer threw; the pool is broken. */
export const INIT_FAILED = 3;
/** Worker → pool: a batch of results. */
export const RESULTS = 4;
/** Worker → pool: over its memory ceiling; replace it after its tasks. */
export const RETIRE = 5;
/** Worker → pool: importing a task module, for the task it runs next. */
export const LOADING = 6;
/** Worker → pool: done importing that module. */
export const LOADED = 7;
/**
 * Pool → worker: end now that you are idle, as a program whose main code is done: wait
 * for the non-daemon Processes and Threads your tasks started, stop the daemon ones.
 */
export const STOP = 8;

/** Task flag: `args` is an array of argument arrays; the result is the array of results. */
export const FLAG_CHUNK = 1;
/** Task flag: `args` is an array of single arguments (a `map` chunk); the result is the array of results. */
export const FLAG_ITEMS = 2;

/** Result code: `value` is the result. */
export const OK = 0;
/** Result code: `value` is the task's serialized error. */
export const FAILED = 1;
/** Result code: the task's module or inline source could not load; `value` is the error. */
export const LOAD_FAILED = 2;

/** A TASKS head is flags + argument count * FLAG_SPAN. */
export const FLAG_SPAN = 4;

/** The seq after `seq` (32-bit, never 0: 0 means none). */
export function nextSeq(seq: number): number {
  return (seq + 1) | 0 || 1;
}
/** Fields per result in a RESULTS message. */
export const RESULT_FIELDS = 3;

// The Int32Array every worker shares with its pool (a process keeps its own and reports it on exit).
/** Slot: the seq of the task the worker is in (or last was in). */
export const CTRL_SEQ = 0;
/** Slot: 1 while inside a task, so a crash can be blamed on it. */
export const CTRL_RUNNING = 1;
/** Slot: bumped by a worker thread after each results message it sends (a hint a spinning pool reads). */
export const CTRL_RESULTS_POSTED = 2;
/**
 * Slot: bumped by the pool after each message it posts to a worker thread. Written by
 * the other side, so 128 bytes away from the worker's slots (the prefetcher moves
 * cache lines in pairs).
 */
export const CTRL_TASKS_POSTED = 32;
/** Slots in all. */
export const CTRL_SLOTS = 64;
/** CTRL_SEQ value meaning the worker ended inside a task it could not name (a process killed by a signal). */
export const SEQ_UNKNOWN = 0;
