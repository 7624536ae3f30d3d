/** How a pool worker that has run every task it holds polls for more before it sleeps. */
import { CTRL_TASKS_POSTED } from '../transport/protocol.js';

const SPIN_MS = 0.02; // how long an idle worker polls before it sleeps: a few main-thread turnarounds

/**
 * Polls for more work for a moment. Spinning pays only when the pool answers within the
 * window (one task at a time, tiny payloads); when it does not, the spin just burns a
 * core the main thread could use (on a 2-vCPU machine often a hyperthread of the same
 * core). So it adapts: every miss costs score, every hit earns it, and at zero the
 * worker only probes now and then.
 */
export class IdleSpin {
  #score = 4;
  #probe = 0;
  /** Whether the last results moved buffers: where a spinning neighbour slows the main thread most (measured). */
  movedLast = false;

  /**
   * Polls `poll` (absent where the channel cannot), handing each message to
   * `onMessage`, until `hasWork()` or the window ends; true if work came.
   */
  awaitWork(poll: (() => unknown[] | undefined) | undefined, ctrl: Int32Array, onMessage: (msg: unknown[]) => void, hasWork: () => boolean): boolean {
    if (poll === undefined) return false;
    if (this.#score <= 0 && (++this.#probe & 63) !== 0) return false;
    if (this.movedLast) return false;
    const until = performance.now() + SPIN_MS;
    // Watch the pool's counter, and touch the port only when it moves: polling the port
    // itself takes its lock, which the posting thread needs too.
    let seen = -1;
    do {
      const posted = Atomics.load(ctrl, CTRL_TASKS_POSTED);
      if (posted === seen) continue;
      seen = posted;
      const msg = poll();
      if (msg !== undefined) {
        onMessage(msg);
        if (hasWork()) {
          if (this.#score < 16) this.#score++;
          return true;
        }
      }
    } while (performance.now() < until);
    this.#score = Math.max(0, this.#score - 2);
    return false;
  }
}
