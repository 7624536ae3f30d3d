/**
 * The objects a broker serves, by id. The owner's threads share objects with their
 * broker by message (owner.ts numbers them from 1); code that runs in the broker thread
 * itself (a manager's server) serves objects it made there, numbered from
 * LOCAL_ID_BASE, and forgets them once nobody refers to them. A call to a local id that
 * is no longer served finds the stand-in its forgetter left, which says so, rather than
 * waiting for an object that will never come.
 *
 * A call may wait only for an object that can still come: one the owner has not
 * shared yet (its ids come in order, so one past the highest seen), and at most
 * MAX_AWAITED calls at a time. Any other id is an error at once, so a peer that calls
 * made-up ids cannot make the broker hold a waiting call for each.
 */
const objects = new Map<number, object>();
// A call can outrun the registration of its object (they come by different routes).
const awaited = new Map<number, Array<() => void>>();
let awaitedCalls = 0;
/** Calls waiting at once for objects not shared yet; past it, such calls fail. */
const MAX_AWAITED = 4096;
/** The highest id the owner has shared (they come in order from 1). */
let highestShared = 0;

/** The first id of objects made in the broker thread itself. */
export const LOCAL_ID_BASE = 2 ** 30;
/**
 * Where this broker's own ids start: at random past LOCAL_ID_BASE (and under 2^32, so
 * they still fit the compact form's u32). A proxy of another server that was at the same
 * address before (a manager restarted there, over TCP, where its pid cannot be checked)
 * then names no object here, rather than the object that happens to have the same id.
 */
const firstLocal = LOCAL_ID_BASE + Math.floor(Math.random() * 2 ** 31);
let nextLocal = firstLocal;
let forgotten: object | undefined;

/** Serves `object` as `id` (and answers the calls that came before it). */
export function serveObject(id: number, object: object): void {
  objects.set(id, object);
  if (id < LOCAL_ID_BASE && id > highestShared) highestShared = id;
  const waiting = awaited.get(id) ?? [];
  awaited.delete(id);
  awaitedCalls -= waiting.length;
  for (const go of waiting) go();
}

/** Serves `object`, made in the broker thread, under a new local id. */
export function serveLocal(object: object): number {
  const id = nextLocal++;
  serveObject(id, object);
  return id;
}

/** Stops serving local object `id`; later calls to it go to `standIn`. */
export function forgetObject(id: number, standIn: object): void {
  objects.delete(id);
  forgotten = standIn;
}

/**
 * The object served as `id`, or a Promise of it when its registration has not come
 * yet; a rejected Promise when no such object can come.
 */
export function objectFor(id: number): object | Promise<object> {
  const found = objects.get(id);
  if (found !== undefined) return found;
  if (!Number.isSafeInteger(id) || id <= 0) return Promise.reject(new TypeError(`no object is served as ${typeof id === 'number' ? id : typeof id} (not an object id)`));
  if (id >= LOCAL_ID_BASE) {
    if (id >= firstLocal && id < nextLocal && forgotten !== undefined) return forgotten;
    return Promise.reject(new Error(`no object ${id} is served here`));
  }
  if (id <= highestShared) return Promise.reject(new Error(`no object ${id} is served here`));
  if (awaitedCalls >= MAX_AWAITED) return Promise.reject(new Error(`no object ${id} is served here yet, and ${MAX_AWAITED} calls already wait for objects to be shared`));
  awaitedCalls++;
  return new Promise((resolve) => {
    let list = awaited.get(id);
    if (list === undefined) awaited.set(id, (list = []));
    list.push(() => resolve(objects.get(id)!));
  });
}
