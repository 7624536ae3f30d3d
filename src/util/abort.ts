/**
 * Listening to an AbortSignal for many waits at once. A program that can stop everything
 * gives one signal to every task, map item and sleep; as many listeners on the signal
 * itself make Node print a "possible memory leak" warning past ten. Here each signal
 * gets one listener, which calls every subscriber in the order they came.
 */

interface Subscribers {
  readonly fns: Set<() => void>;
  readonly listener: () => void;
}

const bySignal = new WeakMap<AbortSignal, Subscribers>();

/** Calls `fn` once when `signal` aborts (as addEventListener('abort', fn, { once: true })), until `offAbort`. */
export function onAbort(signal: AbortSignal, fn: () => void): void {
  let subs = bySignal.get(signal);
  if (subs === undefined) {
    const fns = new Set<() => void>();
    const listener = (): void => {
      bySignal.delete(signal);
      for (const f of [...fns]) {
        try {
          f();
        } catch (err) {
          // As a throwing event listener: reported, and the others still run.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    };
    subs = { fns, listener };
    bySignal.set(signal, subs);
    signal.addEventListener('abort', listener, { once: true });
  }
  subs.fns.add(fn);
}

/** Stops `fn` from being called by `signal`'s abort; the signal's own listener goes with its last subscriber. */
export function offAbort(signal: AbortSignal, fn: () => void): void {
  const subs = bySignal.get(signal);
  if (subs === undefined || !subs.fns.delete(fn) || subs.fns.size > 0) return;
  bySignal.delete(signal);
  signal.removeEventListener('abort', subs.listener);
}
