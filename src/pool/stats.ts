/** What a pool counts as it runs, for `stats()`. */
import { Histogram } from '../util/histogram.js';
import type { Slot } from './item.js';
import type { Percentiles, PoolStats } from './pool-types.js';

/** A pool's counters and latency histograms; recording costs almost nothing. */
export class PoolMeter {
  /** Tasks that finished with a result. */
  completed = 0;
  /** Tasks that finished with an error. */
  failed = 0;
  /** From dispatch to result, in microseconds. */
  readonly runTime = new Histogram();
  /** From submit to dispatch, in microseconds. */
  readonly waitTime = new Histogram();

  /** A snapshot, with the workers' states counted now. */
  snapshot(slots: readonly Slot[], queued: number): PoolStats {
    let busy = 0;
    let idle = 0;
    for (const s of slots) {
      if (s.inflight.length > 0) busy++;
      else if (s.ready) idle++;
    }
    const pct = (h: Histogram): Percentiles => ({ p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), max: h.max });
    return {
      workers: slots.length,
      busy,
      idle,
      queued,
      completed: this.completed,
      failed: this.failed,
      runTime: pct(this.runTime),
      waitTime: pct(this.waitTime),
    };
  }
}
