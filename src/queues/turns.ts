/**
 * The waiting Promise-form puts (or gets) that one thread makes on one queue object,
 * served in the order they were called, as asyncio.Queue serves its putters and getters.
 * Each waits on shared memory by itself (waiting.ts), and waits woken together resolve
 * in no set order: `items.map((x) => q.put(x))` into a full queue delivered the items
 * out of order. So a call that cannot finish at once waits for its turn behind the
 * earlier calls still waiting, then runs; a timeout counts from the call, and a call
 * whose time runs out before its turn gives its turn up.
 */
import { deadlineOf, remaining } from '../sync/waiting.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';

/** One side's calls on one queue object in this thread. */
class Turns {
  /** Calls made and not yet past their turn (run or given up). */
  waiting = 0;
  /** Settles when the last call made so far is past its turn; never rejects. */
  tail: Promise<void> = Promise.resolve();
}

const PUT = 0;
const GET = 1;
const bySide = [new WeakMap<object, Turns>(), new WeakMap<object, Turns>()] as const;
/** Calls waiting for or in their turn, on every queue: while 0, no lookup is needed. */
let anyWaiting = 0;

/** True while some put (side PUT) or get (GET) of `queue` made in this thread waits or runs in turn: a new one must queue behind it. */
export function turnsWaiting(queue: object, side: typeof PUT | typeof GET): boolean {
  return anyWaiting > 0 && (bySide[side].get(queue)?.waiting ?? 0) > 0;
}

/**
 * Runs `op(timeout left)` once the calls made before it on this side of `queue` are past
 * their turn; rejects with `late()` if `timeout` runs out first (the op then never runs).
 */
export function inTurn<T>(queue: object, side: typeof PUT | typeof GET, timeout: number | undefined, op: (timeout: number | undefined) => Promise<T>, late: () => Error): Promise<T> {
  const deadline = deadlineOf(timeout);
  const map = bySide[side];
  let turns = map.get(queue);
  if (turns === undefined) map.set(queue, (turns = new Turns()));
  const t = turns;
  t.waiting++;
  anyWaiting++;
  return new Promise<T>((resolve, reject) => {
    let timer: LongTimeout | undefined;
    let gaveUp = false;
    if (deadline !== Infinity) {
      timer = setLongTimeout(() => {
        gaveUp = true;
        reject(late());
      }, remaining(deadline));
    }
    const mine = t.tail.then(async () => {
      if (gaveUp) return;
      timer?.clear();
      try {
        resolve(await op(deadline === Infinity ? undefined : remaining(deadline)));
      } catch (err) {
        reject(err);
      }
    });
    t.tail = mine.finally(() => {
      t.waiting--;
      anyWaiting--;
    });
  });
}

export { PUT, GET };
