import {
  AuthenticationError,
  BrokenBarrierError,
  BrokenExecutorError,
  CancelledError,
  ConcurError,
  Empty,
  EOFError,
  Full,
  InvalidStateError,
  QueueShutDown,
  TimeoutError,
  WorkerCrashedError,
} from '../futures/errors.js';

/** An error as it crosses a boundary: class name, message, stack, own properties, cause. */
export interface SerializedError {
  readonly $error: true;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly props: Record<string, unknown> | undefined;
  readonly cause: unknown;
  readonly errors: unknown[] | undefined;
}

/** A thrown value that is not an Error (`throw 'x'`), carried as itself when it can be cloned. */
export interface SerializedValue {
  readonly $thrown: true;
  readonly value: unknown;
}

const KNOWN: Record<string, new (message?: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  ConcurError,
  CancelledError,
  TimeoutError,
  InvalidStateError,
  BrokenExecutorError,
  Empty,
  Full,
  EOFError,
  BrokenBarrierError,
  QueueShutDown,
  AuthenticationError,
};

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Flattens a thrown value into plain data that structured clone carries without loss. */
export function serializeError(err: unknown, depth = 0): SerializedError | SerializedValue {
  if (!(err instanceof Error)) {
    return { $thrown: true, value: cloneable(err) ? err : String(err) };
  }
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(err)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause' || key === 'errors') continue;
    const v = (err as unknown as Record<string, unknown>)[key];
    (props ??= {})[key] = cloneable(v) ? v : String(v);
  }
  const hasCause = 'cause' in err && err.cause !== undefined && depth < 8;
  const errors = err instanceof AggregateError && depth < 8 ? err.errors.map((e) => serializeError(e, depth + 1)) : undefined;
  return {
    $error: true,
    name: err.constructor?.name && err.constructor.name !== 'Error' ? err.constructor.name : err.name,
    message: err.message,
    stack: err.stack,
    props,
    cause: hasCause ? serializeError(err.cause, depth + 1) : undefined,
    errors,
  };
}

/**
 * Rebuilds an error on this side: the same built-in or concur class when there is one,
 * otherwise an Error whose `name` is the original class name; with the original
 * message, the worker's stack and every own property.
 */
export function deserializeError(data: SerializedError | SerializedValue): unknown {
  if ('$thrown' in data) return data.value;
  const Ctor = KNOWN[data.name];
  let err: Error;
  if (data.errors !== undefined) {
    err = new AggregateError(data.errors.map((e) => deserializeError(e as SerializedError)), data.message);
  } else if (data.name === 'WorkerCrashedError') {
    err = new WorkerCrashedError(data.message, null);
  } else {
    err = Ctor ? new Ctor(data.message) : new Error(data.message);
  }
  if (err.name !== data.name) {
    Object.defineProperty(err, 'name', { value: data.name, writable: true, configurable: true, enumerable: false });
  }
  if (data.stack !== undefined) {
    Object.defineProperty(err, 'stack', { value: data.stack, writable: true, configurable: true, enumerable: false });
  }
  if (data.props) Object.assign(err, data.props);
  if (data.cause !== undefined) {
    Object.defineProperty(err, 'cause', {
      value: deserializeError(data.cause as SerializedError),
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  return err;
}
