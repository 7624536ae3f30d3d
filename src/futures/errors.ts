/**
 * The error hierarchy, as small as CPython's: one base, a class per way a
 * Future can end other than with its own task's error.
 */

/** Base class of every error concur raises itself (never of a task's own errors). */
export class ConcurError extends Error {
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The Future was cancelled before it ran. */
export class CancelledError extends ConcurError {}

/** A wait ran out of time: `result(timeout)`, `wait`, `asCompleted`, `map`, or a per-task timeout. */
export class TimeoutError extends ConcurError {}

/** An operation is not allowed in the Future's current state (e.g. a second `setResult`). */
export class InvalidStateError extends ConcurError {}

/** The executor can no longer run tasks: its initializer failed or a task module could not load. */
export class BrokenExecutorError extends ConcurError {}

/** The worker running a task exited or crashed before the task finished. */
export class WorkerCrashedError extends ConcurError {
  /** The worker's exit code, or null when it ended by a signal or is unknown. */
  readonly exitCode: number | null;
  /** The signal that ended a process worker, when there was one. */
  readonly signal: string | null;
  constructor(message: string, exitCode: number | null, signal: string | null = null, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

/** A bounded queue had no room for one more item. */
export class Full extends ConcurError {}

/** A queue had no item to give. */
export class Empty extends ConcurError {}

/** A connection's other end was closed and nothing is left to receive. */
export class EOFError extends ConcurError {}

/** A Barrier was broken (aborted, reset, or a wait timed out) while or before a thread waited. */
export class BrokenBarrierError extends ConcurError {}

/** The queue was shut down: no more puts, and no more gets once it is drained. */
export class QueueShutDown extends ConcurError {}

/** A connection to an owner or a manager could not prove it knows the authkey, or the server could not. */
export class AuthenticationError extends ConcurError {}

/**
 * An error raised in a manager's server whose class this process does not have (a
 * registered type's own error class): its message starts with the original class
 * name, and `cause` is the error as it came (with the server's stack and properties).
 */
export class RemoteError extends ConcurError {}

/** A task's module could not be loaded (or its inline source compiled) where it was to run. */
export class TaskLoadError extends ConcurError {}

/** A worker was asked for a task it does not serve (a Redis worker whose --tasks modules lack it). */
export class TaskNotFoundError extends ConcurError {}
