/**
 * Telling a wait from inside the work it waits for, as Python's Thread.join() tells
 * that the current thread joins itself ("cannot join current thread").
 *
 * A thread has an identity; a coroutine has none unless async context is carried, and
 * AsyncLocalStorage's hooks slow every promise of the process (2.3x on 100k tiny
 * AsyncExecutor tasks), for the sake of a check made once per shutdown or join. So the
 * work is run by a function with a name of its own, and the check looks for that name in
 * V8's stack trace: it lists the synchronous callers and, past them, the async functions
 * that await the current one, however deep (through `await`, Promise.all and
 * Promise.any; not through then() callbacks). A name is read when the trace is made,
 * so one runner function per owner (an executor, a group, a pool), named at its first
 * check, tells its work from everything else, at no cost to the work; a check costs 3 to
 * 13 us.
 */

// Two copies of concur in one program must not take each other's names.
const PREFIX = `concur runner ${Math.random().toString(36).slice(2, 10)}#`;
let counter = 0;

/** Gives `runner` a name no other function has, once: the name is read when a trace is made, so naming it at the first check is soon enough. */
function nameUniquely(runner: Function): string {
  if (!runner.name.startsWith(PREFIX)) Object.defineProperty(runner, 'name', { value: `${PREFIX}${++counter}`, configurable: true });
  return runner.name;
}

/**
 * True when the code calling this runs inside `runner`: called by it, or awaited by it
 * through a chain of awaits. `sync` false leaves out the runner's synchronous frames
 * (its code after the work, such as the settling of a result, is not the work).
 */
export function isWithin(runner: Function, sync = true): boolean {
  const name = nameUniquely(runner);
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  try {
    // A program's own prepareStackTrace (source-map-support, say) would format a string.
    Error.prepareStackTrace = (_error, sites) => sites;
    Error.stackTraceLimit = Infinity;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder, isWithin);
    const sites = holder.stack;
    if (!Array.isArray(sites)) return false;
    for (const site of sites) {
      if (site.getFunctionName() === name && (sync || site.isAsync())) return true;
    }
    return false;
  } catch {
    return false;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}
