/**
 * Reading a thrown value that may fight back. A task or a callback can throw anything:
 * an error whose getters throw, a Proxy that throws on every trap, a cause chain that
 * loops. Code that reports or forwards such a value must never throw itself, or the
 * report of one failure becomes a second, worse one (a crashed worker, a lost log).
 */
import { inspect } from 'node:util';

/** Runs `read`, giving `fallback` if it throws. */
export function attempt<T, F>(read: () => T, fallback: F): T | F {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** `value instanceof Error`, false when asking throws (a Proxy's getPrototypeOf trap). */
export function isError(value: unknown): value is Error {
  return attempt(() => value instanceof Error, false);
}

/** A string from whatever a property held: strings as they are, anything else as String() gives, or a placeholder. */
export function textOf(value: unknown, placeholder: string): string {
  if (typeof value === 'string') return value;
  return attempt(() => String(value), placeholder);
}

/**
 * The text a log line shows for a thrown value: what util.inspect shows (the stack,
 * own properties, the cause), else the stack or `name: message`, else a placeholder.
 */
export function describeThrown(value: unknown): string {
  const full = attempt(() => inspect(value), undefined);
  if (typeof full === 'string') return full;
  if (isError(value)) {
    const stack = attempt(() => value.stack, undefined);
    if (typeof stack === 'string' && stack !== '') return stack;
    const name = textOf(attempt(() => value.name, undefined), 'Error');
    const message = textOf(attempt(() => value.message, undefined), '<unreadable message>');
    return `${name}: ${message}`;
  }
  return attempt(() => inspect(value, { customInspect: false, getters: false, showProxy: true }), '<a thrown value that cannot be read>');
}
