/**
 * Result polling: once the current turn is over, the pool polls its workers for a
 * result for a moment before the event loop goes to sleep. Waking a sleeping main
 * thread costs more than a tiny task (a round trip measured 5 us through the event
 * loop, 2 us polled). It runs as an immediate, so I/O already due is served first and
 * the caller's own code is never held up. It adapts as the worker's spin does (see
 * worker-runtime.ts): every miss costs score, every hit earns it, and at zero it only
 * probes now and then, so a pool of long tasks costs the main thread nothing.
 */
import { CTRL_RESULTS_POSTED } from '../transport/protocol.js';
import type { Slot } from './item.js';

const RESULT_SPIN_MS = 0.02; // how long the idle main thread polls for a result it expects soon

/** Polls a pool's workers for results without the event loop, adaptively. */
export class ResultSpin {
  readonly #slots: readonly Slot[];
  readonly #deliver: (slot: Slot, msg: unknown[]) => void;
  #scheduled = false;
  #score = 4;
  #probe = 0;

  /** `slots` is the pool's live list of workers; `deliver` takes a message polled from one. */
  constructor(slots: readonly Slot[], deliver: (slot: Slot, msg: unknown[]) => void) {
    this.#slots = slots;
    this.#deliver = deliver;
  }

  /** Spins once the current turn is over, unless the score says it does not pay. */
  soon(): void {
    if (this.#scheduled) return;
    if (this.#score <= 0 && (++this.#probe & 63) !== 0) return;
    this.#scheduled = true;
    setImmediate(this.#spin);
  }

  readonly #spin = (): void => {
    this.#scheduled = false;
    const slots = this.#slots;
    const until = performance.now() + RESULT_SPIN_MS;
    // As the worker does, watch each worker's counter and touch its port only when it moves.
    const seen = slots.map(() => -1);
    do {
      let waiting = false;
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i]!;
        if (slot.inflight.length === 0 || slot.handle.poll === undefined) continue;
        waiting = true;
        const posted = Atomics.load(slot.ctrl, CTRL_RESULTS_POSTED);
        if (posted === seen[i]) continue;
        seen[i] = posted;
        const msg = slot.handle.poll();
        if (msg !== undefined) {
          if (this.#score < 16) this.#score++;
          this.#deliver(slot, msg);
          return;
        }
      }
      if (!waiting) return; // the results came through the event loop already
    } while (performance.now() < until);
    this.#score = Math.max(0, this.#score - 2);
  };
}
