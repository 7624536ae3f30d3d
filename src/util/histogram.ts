/**
 * A log-linear histogram of durations in microseconds: 16 sub-buckets per power of
 * two, so any percentile is within about 4.5% of the true value, in fixed memory and
 * O(1) per record. The pool records two per task, so it must cost almost nothing.
 */
const SUB = 16;
const SUB_BITS = 4;
const POWERS = 40; // up to 2^40 us, about 12 days

/** Counts durations and answers percentiles. */
export class Histogram {
  #counts = new Float64Array(SUB * POWERS);
  #total = 0;
  #max = 0;

  /** Records one duration in microseconds. */
  record(us: number): void {
    if (!(us >= 0)) us = 0;
    this.#counts[bucketOf(us)]!++;
    this.#total++;
    if (us > this.#max) this.#max = us;
  }

  /** Records `n` equal durations at once. */
  recordMany(us: number, n: number): void {
    if (!(us >= 0)) us = 0;
    this.#counts[bucketOf(us)]! += n;
    this.#total += n;
    if (us > this.#max) this.#max = us;
  }

  /** How many were recorded. */
  get count(): number {
    return this.#total;
  }

  /** The value at percentile `p` (0..100), or 0 when empty. */
  percentile(p: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(valueOf(i), this.#max);
    }
    return this.#max;
  }

  /** The largest recorded value. */
  get max(): number {
    return this.#max;
  }
}

function bucketOf(us: number): number {
  if (us < SUB) return Math.floor(us);
  if (us < 0x7fffffff) {
    // Integer fast path: the pool records two durations per task.
    const v = us | 0;
    const top = 31 - Math.clz32(v); // floor(log2(v)), >= SUB_BITS
    return (top - SUB_BITS + 1) * SUB + ((v >>> (top - SUB_BITS)) - SUB);
  }
  const power = Math.floor(Math.log2(us)) - SUB_BITS + 1; // >= 1 for us >= SUB
  const sub = Math.min(SUB - 1, Math.floor(us / 2 ** (power - 1)) - SUB); // 0..SUB-1
  return Math.min(SUB * POWERS - 1, power * SUB + sub);
}

/** The midpoint of bucket `i`. */
function valueOf(i: number): number {
  if (i < SUB) return i + 0.5;
  const power = Math.floor(i / SUB);
  const sub = i % SUB;
  return (SUB + sub + 0.5) * 2 ** (power - 1);
}
