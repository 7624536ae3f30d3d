/**
 * The objects a broker serves, by id. The owner's threads share objects with their
 * broker by message (owner.ts numbers them from 1); code that runs in the broker thread
 * itself (a manager's server) serves objects it made there, numbered from
 * LOCAL_ID_BASE, and forgets them once nobody refers to them. A call to a local id that
 * is no longer served finds the stand-in its forgetter left, which says so, rather than
 * waiting for an object that will never come.
 */
const objects = new Map<number, object>();
// A call can outrun the registration of its object (they come by different routes).
const awaited = new Map<number, Array<() => void>>();

/** The first id of objects made in the broker thread itself. */
export const LOCAL_ID_BASE = 2 ** 30;
let nextLocal = LOCAL_ID_BASE;
let forgotten: object | undefined;

/** Serves `object` as `id` (and answers the calls that came before it). */
export function serveObject(id: number, object: object): void {
  objects.set(id, object);
  for (const go of awaited.get(id) ?? []) go();
  awaited.delete(id);
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

/** The object served as `id`, or a Promise of it when its registration has not come yet. */
export function objectFor(id: number): object | Promise<object> {
  const found = objects.get(id);
  if (found !== undefined) return found;
  if (id >= LOCAL_ID_BASE && forgotten !== undefined) return forgotten;
  return new Promise((resolve) => {
    let list = awaited.get(id);
    if (list === undefined) awaited.set(id, (list = []));
    list.push(() => resolve(objects.get(id)!));
  });
}
