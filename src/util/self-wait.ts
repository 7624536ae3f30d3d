/**
 * Telling a wait from inside the work it waits for, as Python's Thread.join() tells
 * that the current thread joins itself ("cannot join current thread").
 *
 * A thread has an identity; a coroutine has none unless async context is carried, and
 * AsyncLocalStorage's hooks slow every promise of the process (2.3x on 100k tiny
 * AsyncExecutor tasks), for the sake of a check made once per shutdown or join. So the
 * work runs through a function of the owner's (an executor, a group, a pool), and the
 * check looks for its name in V8's stack trace: the trace lists the synchronous callers
 * and, past them, the async functions that await the current one, however deep (through
 * `await`, Promise.all and Promise.any, and along then() chains of native promises that
 * have one reaction each; not into a then() callback's caller). The function may be an
 * async runner that awaits the work, or an await attached to the work's promise only when
 * a check is made (the trace is built from the promises as they are then). A name is read
 * when the trace is made, so it is given at the first check: the work pays nothing for
 * it. A check costs 3 to 13 us.
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
 * True when the code calling this runs inside one of `runners`: called by it, or awaited
 * by it through a chain of awaits (and of then() on native promises, which V8 follows when
 * each promise on the way has that one reaction).
 */
export function isWithin(...runners: Function[]): boolean {
  const names = runners.map(nameUniquely);
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
      if (names.includes(site.getFunctionName() ?? '')) return true;
    }
    return false;
  } catch {
    return false;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

/**
 * A wait refused because it would wait for itself: a promise rejected with `message`,
 * already handled, so that a caller that does not await it loses nothing.
 */
export function refusedSelfWait(message: string): Promise<never> {
  const refused = Promise.reject(new Error(message));
  refused.catch(() => {});
  return refused;
}
