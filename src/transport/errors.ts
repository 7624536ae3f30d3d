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
  RemoteError,
  TaskLoadError,
  TaskNotFoundError,
  TimeoutError,
  WorkerCrashedError,
} from '../futures/errors.js';
import { attempt, isError, textOf } from '../util/thrown.js';

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
  RemoteError,
  TaskLoadError,
  TaskNotFoundError,
};

/** How many causes (and nested AggregateError levels) are carried; deeper ones are dropped. */
const MAX_DEPTH = 8;

type Serialized = SerializedError | SerializedValue;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Read<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs a read of a value that may throw (a getter, a Proxy trap), keeping what it threw. */
function read<T>(get: () => T): Read<T> {
  try {
    return { ok: true, value: get() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A short, never-throwing account of what a failed read threw. */
function why(thrown: unknown): string {
  if (isError(thrown)) {
    const name = textOf(attempt(() => thrown.name, undefined), 'Error');
    const message = textOf(attempt(() => thrown.message, undefined), '');
    return message === '' ? name : `${name}: ${message}`;
  }
  return textOf(thrown, 'an unreadable value');
}

/** The placeholder a property gets when reading or copying it failed. */
function unreadableText(what: string, thrown: unknown): string {
  return `[${what} could not be read: ${why(thrown)}]`;
}

/** What stands for a thrown value nothing could be read from: an Error that says so. */
function unreadableValue(thrown: unknown): SerializedError {
  return {
    $error: true,
    name: 'Error',
    message: `threw a value that could not be read (reading it threw ${why(thrown)})`,
    stack: undefined,
    props: undefined,
    cause: undefined,
    errors: undefined,
  };
}

/**
 * A copy of `value` that structured clone carries as it is: the clone itself when
 * cloning works (so getters run once, here, never again in the channel), else the
 * text the value gives, else a placeholder naming what went wrong.
 */
function copyData(value: unknown, what: string): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return typeof value === 'symbol' ? textOf(value, unreadableText(what, undefined)) : value;
  }
  const cloned = read(() => structuredClone(value));
  if (cloned.ok) return cloned.value;
  const text = read(() => String(value));
  return text.ok ? text.value : unreadableText(what, text.error);
}

/** Sets an own data property, `__proto__` included (never the prototype). */
function defineData(target: object, key: string, value: unknown, enumerable = true): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable });
}

const SKIPPED = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/**
 * Flattens a thrown value into plain data that structured clone carries without loss.
 * Never throws, whatever the value's getters, toJSON/toString or Proxy traps do: what
 * cannot be read is replaced by a note saying so, and the rest still goes. A cause
 * chain that loops is carried as the same loop (structured clone keeps identity).
 */
export function serializeError(err: unknown): Serialized {
  try {
    return serializeAt(err, 0, new Map());
  } catch (error) {
    // Not reached by any value known to us; the contract is "never throws", so keep it.
    return unreadableValue(error);
  }
}

function serializeAt(value: unknown, depth: number, seen: Map<unknown, Serialized>): Serialized {
  const known = seen.get(value);
  if (known !== undefined) return known;
  const asError = read(() => value instanceof Error);
  if (!asError.ok) return unreadableValue(asError.error);
  if (!asError.value) return serializeThrown(value, seen);
  const err = value as Error;
  const out: Mutable<SerializedError> = { $error: true, name: 'Error', message: '', stack: undefined, props: undefined, cause: undefined, errors: undefined };
  seen.set(value, out);

  const ctorName = attempt(() => err.constructor?.name, undefined);
  const ownName = attempt(() => err.name, undefined);
  if (typeof ctorName === 'string' && ctorName !== '' && ctorName !== 'Error') out.name = ctorName;
  else if (typeof ownName === 'string') out.name = ownName;
  const message = read(() => err.message);
  out.message = message.ok ? textOf(message.value, unreadableText('message', undefined)) : unreadableText('message', message.error);
  const stack = attempt(() => err.stack, undefined);
  if (typeof stack === 'string') out.stack = stack;

  const keys = read(() => Object.keys(err));
  if (!keys.ok) out.props = { '[properties]': unreadableText('properties', keys.error) };
  else {
    for (const key of keys.value) {
      if (SKIPPED.has(key)) continue;
      const v = read(() => (err as unknown as Record<string, unknown>)[key]);
      defineData((out.props ??= {}), key, v.ok ? copyData(v.value, `property ${key}`) : unreadableText(`property ${key}`, v.error));
    }
  }

  if (depth < MAX_DEPTH) {
    const cause = read(() => err.cause);
    if (!cause.ok) out.cause = unreadableValue(cause.error);
    else if (cause.value !== undefined) out.cause = serializeAt(cause.value, depth + 1, seen);
    if (attempt(() => err instanceof AggregateError, false)) out.errors = serializeMembers(err as AggregateError, depth, seen);
  }
  return out;
}

/** An AggregateError's members, each read on its own so one bad member spoils nothing. */
function serializeMembers(err: AggregateError, depth: number, seen: Map<unknown, Serialized>): Serialized[] {
  const list = read(() => err.errors);
  if (!list.ok) return [unreadableValue(list.error)];
  const items = list.value as unknown;
  if (!attempt(() => Array.isArray(items), false)) return [];
  const length = attempt(() => (items as unknown[]).length, 0);
  const out: Serialized[] = [];
  for (let i = 0; i < length; i++) {
    const item = read(() => (items as unknown[])[i]);
    out.push(item.ok ? serializeAt(item.value, depth + 1, seen) : unreadableValue(item.error));
  }
  return out;
}

/** A thrown value that is not an Error: itself when it clones, else its readable own properties, else its text. */
function serializeThrown(value: unknown, seen: Map<unknown, Serialized>): Serialized {
  if (value === null || typeof value !== 'object') return { $thrown: true, value: copyData(value, 'thrown value') };
  const cloned = read(() => structuredClone(value));
  if (cloned.ok) return { $thrown: true, value: cloned.value };
  const keys = read(() => Object.keys(value));
  if (!keys.ok) return unreadableValue(keys.error);
  if (keys.value.length === 0) {
    const text = read(() => String(value));
    return text.ok ? { $thrown: true, value: text.value } : unreadableValue(text.error);
  }
  const copy: Record<string, unknown> = {};
  const out: SerializedValue = { $thrown: true, value: copy };
  seen.set(value, out);
  for (const key of keys.value) {
    const v = read(() => (value as Record<string, unknown>)[key]);
    defineData(copy, key, v.ok ? copyData(v.value, `property ${key}`) : unreadableText(`property ${key}`, v.error));
  }
  return out;
}

/**
 * Rebuilds an error on this side: the same built-in or concur class when there is one,
 * otherwise an Error whose `name` is the original class name; with the original
 * message, the worker's stack and every own property (set as properties, so a key
 * such as `__proto__` never reaches a prototype). A cause loop comes back as a loop.
 */
export function deserializeError(data: Serialized): unknown {
  return deserializeAt(data, new Map());
}

function deserializeAt(data: Serialized, done: Map<Serialized, unknown>): unknown {
  if ('$thrown' in data) return data.value;
  const known = done.get(data);
  if (known !== undefined) return known;
  const Ctor = Object.hasOwn(KNOWN, data.name) ? KNOWN[data.name] : undefined;
  let err: Error;
  if (data.errors !== undefined) {
    err = new AggregateError([], data.message);
  } else if (data.name === 'WorkerCrashedError') {
    err = new WorkerCrashedError(data.message, null);
  } else {
    err = Ctor ? new Ctor(data.message) : new Error(data.message);
  }
  // Registered before its cause and members are rebuilt, so a loop back to it ends here.
  done.set(data, err);
  if (err.name !== data.name) defineData(err, 'name', data.name, false);
  if (data.stack !== undefined) defineData(err, 'stack', data.stack, false);
  if (data.props) for (const key of Object.keys(data.props)) defineData(err, key, data.props[key]);
  if (data.errors !== undefined) defineData(err, 'errors', data.errors.map((e) => deserializeAt(e as Serialized, done)), false);
  if (data.cause !== undefined) defineData(err, 'cause', deserializeAt(data.cause as Serialized, done), false);
  return err;
}
