import { taskRefOf } from './registry.js';

/** How a function crosses into a worker: by module and name, or as its source. */
export type FunctionSpec =
  | { readonly kind: 'module'; readonly module: string; readonly name: string }
  | { readonly kind: 'inline'; readonly source: string; readonly name: string };

const cache = new WeakMap<Function, FunctionSpec>();

/** Describes `fn` for a worker, or throws a TypeError saying why it cannot cross. */
export function specOf(fn: Function): FunctionSpec {
  let spec = cache.get(fn);
  if (spec !== undefined) return spec;
  const ref = taskRefOf(fn);
  if (ref !== undefined) {
    spec = { kind: 'module', module: ref.module, name: ref.name };
  } else {
    const source = Function.prototype.toString.call(fn);
    const name = fn.name || '<anonymous>';
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw new TypeError(
        `task ${name} is a native or bound function and cannot be sent to a worker; define it with defineTasks(import.meta.url, {...})`,
      );
    }
    if (/^class\b/.test(source)) throw new TypeError(`task ${name} is a class, not a function`);
    spec = { kind: 'inline', source, name };
  }
  cache.set(fn, spec);
  return spec;
}

/** A printable name for a spec, used in error messages. */
export function specName(spec: FunctionSpec): string {
  return spec.kind === 'module' ? `${spec.name} (${spec.module})` : `inline function ${spec.name}`;
}
