/**
 * A kind of shared object (registerShared) may hand its users a view of each instance instead of the instance itself: a JS
 * Proxy around it (a manager's Namespace, whose `delete ns.x` and `'x' in ns` only a
 * Proxy's own traps can see). v8 refuses to clone a Proxy, so what crosses is always the
 * instance (the view's data): the kind's revival returns the view, and sending swaps
 * each view back for its data.
 *
 *   user ── view ──► send: withoutViews ── data (cloned) ──► reviveShared ── view ──► user
 *
 * No imports: the protocol and codec modules that send values use this, in every thread.
 */

const dataOfView = new WeakMap<object, object>();

/** @internal Records `view` as the view of `data` (sync/shared.ts makes views). */
export function addView(view: object, data: object): void {
  dataOfView.set(view, data);
}

/** True for a view (whose data is what crosses). */
export const isView = (value: object): boolean => dataOfView.has(value);

/** The data behind a view, or `value` itself for anything else. */
export function dataOf<T>(value: T): T {
  return value !== null && typeof value === 'object' ? ((dataOfView.get(value) as T | undefined) ?? value) : value;
}

/**
 * `value` with every view in it (at any depth of its arrays, plain objects, Maps and
 * Sets) replaced by its data, copying the containers that hold one; `value` itself
 * when it holds none.
 */
export function withoutViews<T>(value: T, seen = new Map<object, unknown>()): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const data = dataOfView.get(value);
  if (data !== undefined) return data as T;
  if (seen.has(value)) return seen.get(value) as T;
  seen.set(value, value); // a cycle back to a container being copied keeps the original
  let copy: unknown = value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = withoutViews(value[i], seen);
      if (v !== value[i]) ((copy === value ? (copy = [...value]) : copy) as unknown[])[i] = v;
    }
  } else if (value instanceof Map) {
    const entries: Array<[unknown, unknown]> = [];
    let changed = false;
    for (const [k, v] of value) {
      const entry: [unknown, unknown] = [withoutViews(k, seen), withoutViews(v, seen)];
      changed ||= entry[0] !== k || entry[1] !== v;
      entries.push(entry);
    }
    if (changed) copy = new Map(entries);
  } else if (value instanceof Set) {
    const items = [...value];
    const plain = items.map((v) => withoutViews(v, seen));
    if (plain.some((v, i) => v !== items[i])) copy = new Set(plain);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const k of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[k];
      const w = withoutViews(v, seen);
      if (w !== v) ((copy === value ? (copy = { ...value }) : copy) as Record<string, unknown>)[k] = w;
    }
  }
  seen.set(value, copy);
  return copy as T;
}

/**
 * `send(value)`, or, when v8 refused to clone it because it holds a view (a JS Proxy),
 * `send` of it without views. Only the refused path walks the value.
 */
export function sendingData<R>(value: unknown, send: (value: unknown) => R): R {
  try {
    return send(value);
  } catch (err) {
    const plain = withoutViews(value);
    if (plain === value) throw err;
    return send(plain);
  }
}

