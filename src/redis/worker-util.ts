/** Small helpers of RedisWorker's job processing. */

/** `p`, or `signal.reason` as soon as it aborts. */
export function raceAbort<T>(p: PromiseLike<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The pool's own errors (a crash, a timeout) name the task it ran, runJob: make them name the job's task. */
export function nameTheTask(err: unknown, label: string): void {
  if (!(err instanceof Error)) return;
  const fix = (s: string): string => s.replace(/task runJob(?: \([^)]*\))?/g, `task ${label}`);
  try {
    if (typeof err.message === 'string' && err.message.includes('runJob')) {
      err.message = fix(err.message);
      if (typeof err.stack === 'string') err.stack = fix(err.stack);
    }
  } catch {
    // a frozen or hostile error goes as it is
  }
}
