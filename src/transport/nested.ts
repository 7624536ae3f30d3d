/**
 * What crosses into a thread or a process only by itself: a shared primitive (or a proxy)
 * and a Pipe end. The crossing code turns an argument, or a value sent down a Pipe, that
 * is one into what the other side revives (a proxy, a mapped region, a moved port). Deeper
 * in a value it would be structured-cloned as a plain object: a Lock without its methods,
 * across processes a copy of its memory, a Pipe end as `{}`. Python pickles a dict of
 * locks whole; here each would need its own form and, down a Pipe, its own "mapped"
 * acknowledgement, so a nested one is refused, saying where it sits, rather than arriving
 * broken.
 */
import { types } from 'node:util';
import { dataOf, kindOf } from '../sync/shared.js';
import { Connection } from './pipe.js';
import { Queue } from '../queues/queue.js';

/**
 * How a member was reached: an array index, an object key, or a Map's or Set's entry
 * (kept raw: the path's text is made only for what is found).
 */
type Via = number | string | { readonly entry: number; readonly part: 'key' | 'value' | 'item' };

/** One object met in the walk, and how it was reached. */
interface Step {
  readonly value: object;
  readonly up: Step | undefined;
  readonly via: Via | undefined;
}

/** A path longer than this keeps its head and tail. */
const MAX_PATH = 160;

/** What crosses only by itself, as "a Lock", "a proxy of a Lock", "a Pipe end"; undefined for anything else. */
export function crossesAlone(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const data = dataOf(value); // a view (a namespace's) by its data: its traps would ask the manager
  if (data === value && types.isProxy(value)) return undefined; // a user's Proxy: v8 refuses it, and its traps are not ours to run
  if (value instanceof Connection) return 'a Pipe end';
  const kind = kindOf(data);
  if (kind === undefined) return undefined;
  const name = kind.startsWith('Remote') ? kind.slice('Remote'.length) : kind;
  const a = /^[AEIOU]/.test(name) ? 'an' : 'a';
  return kind.startsWith('Remote') ? `a proxy of ${a} ${name}` : `${a} ${name}`;
}

/**
 * The first thing inside `value` (not `value` itself) that crosses only by itself, with
 * its path (".lock", "[1].deep[0]", ".<entry 0>.value"); undefined if there is none.
 * Walks what structured clone copies member by member (arrays, Maps, Sets, plain objects
 * and class instances), each object once (cycles), without recursion (depth), and
 * nothing inside a primitive (its own fields cross with it).
 */
export function nestedAlone(value: unknown): { path: string; what: string } | undefined {
  if (value === null || typeof value !== 'object' || crossesAlone(value) !== undefined) return undefined;
  // What structured clone does not copy member by member is not walked, at the top as
  // deeper: above all a typed array, a Buffer or a DataView, whose keys are its indices
  // (Object.keys of a 12.5 MB Uint8Array made 12.5 million strings: ~4 s of each start()).
  if (!walked(dataOf(value))) return undefined;
  const seen = new Set<object>([value]);
  const stack: Step[] = [{ value, up: undefined, via: undefined }];
  for (let at = stack.pop(); at !== undefined; at = stack.pop()) {
    const from = at;
    let found: { path: string; what: string } | undefined;
    const visit = (child: unknown, via: Via): boolean => {
      if (child === null || typeof child !== 'object' || seen.has(child)) return false;
      seen.add(child);
      const what = crossesAlone(child);
      if (what !== undefined) {
        found = { path: pathOf(from, via), what };
        return true;
      }
      if (walked(child)) stack.push({ value: child, up: from, via });
      return false;
    };
    try {
      membersOf(from.value, visit);
    } catch {
      // A getter or a Proxy trap that throws: the clone will say so itself.
    }
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Whether structured clone copies `value` member by member (so something may hide inside). */
function walked(value: object): boolean {
  if (types.isProxy(value)) return false;
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  return Object.prototype.toString.call(value) === '[object Object]';
}

/** Calls `visit` with each member of a walked object until it returns true. */
function membersOf(value: object, visit: (child: unknown, via: Via) => boolean): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (visit(value[i], i)) return;
  } else if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      if (visit(k, { entry: i, part: 'key' }) || visit(v, { entry: i, part: 'value' })) return;
      i++;
    }
  } else if (value instanceof Set) {
    let i = 0;
    for (const v of value) if (visit(v, { entry: i++, part: 'item' })) return;
  } else {
    for (const k of Object.keys(value)) if (visit((value as Record<string, unknown>)[k], k)) return;
  }
}

/** The text of one step: `[3]`, `.lock`, `["a b"]`, `.<entry 0>.value`, `.<item 2>`. */
function stepText(via: Via | undefined): string {
  if (via === undefined) return '';
  if (typeof via === 'number') return `[${via}]`;
  if (typeof via === 'string') return /^[A-Za-z_$][\w$]*$/.test(via) ? `.${via}` : `[${JSON.stringify(via)}]`;
  return via.part === 'item' ? `.<item ${via.entry}>` : `.<entry ${via.entry}>.${via.part}`;
}

function pathOf(up: Step, last: Via): string {
  const steps = [stepText(last)];
  for (let s: Step | undefined = up; s !== undefined; s = s.up) steps.push(stepText(s.via));
  const path = steps.reverse().join('');
  return path.length <= MAX_PATH ? path : `${path.slice(0, MAX_PATH / 2)}...${path.slice(-MAX_PATH / 2)}`;
}

const WHY = 'a primitive, a proxy or a Pipe end crosses into a thread or process only by itself; nested in a value it would arrive as a plain object, without its methods';

/**
 * What a `Queue`, `LifoQueue` or `PriorityQueue` (asyncio.Queue: coroutines of one thread,
 * its state private) says when it would cross: structured clone would give `{ maxsize }`,
 * without its methods or items, as Python refuses to pickle a queue.Queue. Undefined for
 * anything else.
 */
export function threadOnlyQueue(value: unknown): { what: string; why: string } | undefined {
  if (!(value instanceof Queue)) return undefined;
  const name = value.constructor.name;
  const shared = name === 'LifoQueue' || name === 'PriorityQueue' ? `Shared${name}` : 'SharedQueue';
  return {
    what: `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`,
    why: `a ${name} serves the coroutines of one thread (asyncio.Queue) and would arrive as a plain object without its methods or items. Between threads and processes use a ${shared} (${name === 'Queue' ? 'multiprocessing.Queue, queue.Queue' : `queue.${name}`})`,
  };
}

/**
 * Throws if an argument of a Process or Thread (or a field of a subclass) holds something
 * that crosses only by itself; `name(i)` says which argument ("argument 0"), `of` whose
 * ("Process target f"). Called before anything moves, so a refused start leaves all as it was.
 */
export function checkArgsNested(args: readonly unknown[], name: (i: number) => string, of: string): void {
  for (let i = 0; i < args.length; i++) {
    const queue = threadOnlyQueue(args[i]);
    if (queue !== undefined) throw new TypeError(`${name(i)} (${queue.what}) of ${of} cannot cross: ${queue.why}`);
    const n = nestedAlone(args[i]);
    if (n === undefined) continue;
    const instead =
      n.what === 'a Pipe end'
        ? 'pass the Pipe end as an argument of its own'
        : 'pass it as an argument of its own (args: [lock, value], not [{ lock, value }]), or make it a field of a Process or Thread subclass';
    throw new TypeError(`${name(i)} ${n.path} (${n.what}) of ${of} cannot cross: ${WHY}. Instead, ${instead}`);
  }
}

/** Throws if `value`, about to be sent down a Pipe, is or holds a Pipe end, or holds a primitive or proxy. */
export function checkSentNested(value: unknown): void {
  const queue = threadOnlyQueue(value);
  if (queue !== undefined) throw new TypeError(`the value sent (${queue.what}) cannot cross: ${queue.why}`);
  const top = value instanceof Connection;
  const n = top ? { path: '', what: 'a Pipe end' } : nestedAlone(value);
  if (n === undefined) return;
  const where = `the value sent${n.path === '' ? '' : ` ${n.path}`} (${n.what})`;
  if (n.what === 'a Pipe end') {
    throw new TypeError(`${where} cannot cross: a Pipe end cannot be sent down a Pipe (it would arrive as an empty object). Instead, pass it to the Process or Thread as an argument of its own`);
  }
  throw new TypeError(`${where} cannot cross: ${WHY}. Instead, send it by itself (one send each)`);
}
