/**
 * An executor's lease: a key with a TTL (see events.ts) that tells workers the executor
 * can still answer them.
 *
 *   every leaseMs/3: PING (subscriber) ─▶ SET lease PX leaseMs (commands), one at a time
 *   last renewal that got through sent 2/3 leaseMs ago ─▶ onLapse (the executor sets every
 *                                                         sent PENDING Future RUNNING; the
 *                                                         key lives at least leaseMs)
 *   jobs go out only while the lease holds; shutdown deletes it
 */
import type { Redis } from 'ioredis';
import { LapseTimer } from './lapse.js';

/** The shortest lease: a worker looks at it once a second, so a shorter one buys little. */
export const LEASE_MIN = 1000;

/** An executor's lease in Redis, renewed while both its connections answer. */
export class Lease {
  readonly #key: string;
  readonly #ms: number;
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  readonly #onLapse: () => void;
  /** performance.now() until which the lease surely lives in Redis, less a margin (see #leased). */
  #until = -Infinity;
  #renewing = false;
  /** A renewal fell due while one was on its way: it goes as soon as that one is back. */
  #renewDue = false;
  #ended = false;
  #renewer: ReturnType<typeof setInterval> | undefined;
  /** Calls onLapse once performance.now() passes #until (see lapse.ts: a bare timer can fire early by it). */
  readonly #lapse: LapseTimer;
  /** Woken when the lease is renewed (or by wakeAll): the executor's sending waits for a live lease. */
  #waiters: Array<() => void> = [];

  /**
   * `key` lives `ms` without renewal; `commands` sets it, `subscriber` (the connection
   * workers' questions come on) must answer a PING first. `onLapse` is called when the
   * lease may have lapsed: no renewal got through for two thirds of `ms`, or Redis lost
   * the key before its time.
   */
  constructor(key: string, ms: number, commands: Redis, subscriber: Redis, onLapse: () => void) {
    this.#key = key;
    this.#ms = ms;
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#onLapse = onLapse;
    this.#lapse = new LapseTimer(onLapse);
  }

  /** Renews now, then every third of the lease. */
  start(): void {
    this.renew();
    this.#renewer = setInterval(() => this.renew(), Math.floor(this.#ms / 3));
    this.#renewer.unref();
  }

  /** Holds for good without a key: for an executor that never answers workers (they go on without its word). */
  forgo(): void {
    this.#until = Infinity;
  }

  /** Whether the lease surely lives in Redis now. */
  holds(): boolean {
    return performance.now() < this.#until;
  }

  /** True once end() was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Resolves at the next renewal that gets through, or at wakeAll(). */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves every wait() now. */
  wakeAll(): void {
    if (this.#waiters.length > 0) for (const wake of this.#waiters.splice(0)) wake();
  }

  /**
   * Renews the lease: a PING on the subscriber connection, then SET PX on the command
   * connection, so that the lease lives only while we can both hear workers and answer
   * them. One at a time: a reply that does not come (a link gone silent, a machine
   * frozen) stops the renewals, and the key expires. The SET says whether the key was
   * still there: one Redis lost (whatever our clock says) counts as a lapse.
   */
  renew(): void {
    if (this.#ended) return;
    if (this.#renewing) {
      this.#renewDue = true;
      return;
    }
    this.#renewing = true;
    this.#renewDue = false;
    void (async () => {
      let ok = false;
      try {
        await this.#subscriber.ping();
        if (this.#ended) return;
        const sentAt = performance.now();
        // EXISTS and SET in one transaction (SET's GET option needs Redis 6.2; BullMQ runs on 5).
        const replies = await this.#commands.multi().exists(this.#key).set(this.#key, '1', 'PX', this.#ms).exec();
        const failed = replies?.find(([err]) => err !== null)?.[0];
        if (replies === null || failed !== undefined) throw failed ?? new Error('the lease transaction was discarded');
        ok = true;
        if (this.#ended) return;
        if (replies[0]![1] === 0 && this.#until !== -Infinity) {
          // Gone before its time by our clock: Redis lost it (evicted under maxmemory, a
          // restart, a failover to a replica that lacked the last renewal). A worker may
          // have found no lease meanwhile and started a job of ours.
          this.#until = -Infinity;
          this.#onLapse();
        }
        this.#leased(sentAt);
      } catch {
        // Redis unreachable: the next tick tries again
      } finally {
        this.#renewing = false;
        if (ok && this.#renewDue) this.renew();
      }
    })();
  }

  /**
   * A renewal sent at `sentAt` got through: Redis set the key after that, so it lives at
   * least until sentAt + ms by our clock. Until two thirds of that we hold the lease; the
   * last third is the margin in which onLapse runs, however late its timer fires.
   */
  #leased(sentAt: number): void {
    const until = sentAt + (this.#ms * 2) / 3;
    if (until <= this.#until) return;
    this.#until = until;
    this.#lapse.arm(until);
    if (this.holds()) this.wakeAll();
  }

  /** Stops renewing, for good. */
  end(): void {
    this.#ended = true;
    clearInterval(this.#renewer);
    this.#lapse.clear();
  }

  /** Deletes the key: workers need not wait for us. Sent on the connection that renewed it, after any renewal on its way. */
  release(): Promise<unknown> {
    return this.#commands.del(this.#key);
  }
}
