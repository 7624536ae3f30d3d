/**
 * Portable task names. A Future's task is named in this process by its module's file URL,
 * which means nothing on another machine, where the same code sits at another path. A job
 * names it instead by the module's path from its package root (the nearest package.json)
 * and its defineTasks key; a worker resolves that path against the task modules it serves.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FunctionSpec } from '../tasks/describe.js';

/** A task as a job names it: a module path from its package root and a key, or inline source. */
export type PortableTask =
  | { readonly kind: 'module'; readonly path: string; readonly package: string; readonly name: string }
  | { readonly kind: 'inline'; readonly source: string; readonly name: string };

interface PackageRoot {
  readonly dir: string;
  readonly name: string;
}

const roots = new Map<string, PackageRoot | null>();

/** The nearest directory at or above `dir` holding a package.json, with the package's name. */
export function packageRootOf(dir: string): PackageRoot | undefined {
  const seen: string[] = [];
  let found: PackageRoot | null | undefined;
  for (let d = dir; ; d = dirname(d)) {
    found = roots.get(d);
    if (found !== undefined) break;
    seen.push(d);
    const file = join(d, 'package.json');
    if (existsSync(file)) {
      let name = '';
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown };
        if (typeof parsed.name === 'string') name = parsed.name;
      } catch {
        // an unreadable package.json still marks the root; the name is only shown in messages
      }
      found = { dir: d, name };
      break;
    }
    if (dirname(d) === d) {
      found = null;
      break;
    }
  }
  for (const d of seen) roots.set(d, found);
  return found ?? undefined;
}

const portable = new Map<string, { path: string; package: string }>();

/** Where a task module sits, portably: its path from its package root (POSIX separators) and the package's name. */
export function portableModule(moduleUrl: string): { path: string; package: string } {
  let known = portable.get(moduleUrl);
  if (known !== undefined) return known;
  if (!moduleUrl.startsWith('file:')) {
    throw new TypeError(`task module ${moduleUrl} is not a file; a Redis worker finds a task by its module's path in a package`);
  }
  const file = fileURLToPath(moduleUrl);
  const root = packageRootOf(dirname(file));
  if (root === undefined) {
    throw new TypeError(`task module ${file} has no package.json above it; a Redis worker finds a task by its module's path from the package root`);
  }
  known = { path: relative(root.dir, file).split(sep).join('/'), package: root.name };
  portable.set(moduleUrl, known);
  return known;
}

/** The portable form of a FunctionSpec. */
export function toPortable(spec: FunctionSpec): PortableTask {
  if (spec.kind === 'inline') return { kind: 'inline', source: spec.source, name: spec.name };
  const where = portableModule(spec.module);
  return { kind: 'module', path: where.path, package: where.package, name: spec.name };
}

/** A printable name for a portable task. */
export function portableName(task: PortableTask): string {
  return task.kind === 'module' ? `${task.name} (${task.path}${task.package ? ` in package ${task.package}` : ''})` : `inline function ${task.name}`;
}

/** The task modules a worker serves, found by their portable paths. */
export class TaskIndex {
  readonly #byPath = new Map<string, string>();
  /** The modules as given, for messages. */
  readonly shown: string[] = [];

  /** `modules`: paths (relative to `cwd`) or file URLs of task modules. Throws naming a module that does not exist. */
  constructor(modules: readonly string[], cwd = process.cwd()) {
    for (const m of modules) {
      if (typeof m !== 'string' || m === '') throw new TypeError(`tasks must be module paths or file URLs, got ${String(m)}`);
      const file = m.startsWith('file:') ? fileURLToPath(m) : isAbsolute(m) ? m : resolve(cwd, m);
      if (!existsSync(file) || !statSync(file).isFile()) throw new Error(`task module ${m} not found (looked for ${file})`);
      const url = pathToFileURL(file).href;
      const { path } = portableModule(url);
      this.#byPath.set(path, url);
      this.shown.push(path);
    }
  }

  /** The modules' URLs. */
  get modules(): string[] {
    return [...this.#byPath.values()];
  }

  /** The module URL serving `path` here, or undefined. */
  resolve(path: string): string | undefined {
    return this.#byPath.get(path);
  }
}
