/**
 * What a thread sends to other processes without waiting for the answer: puts into an
 * unbounded queue (through an outbox per queue, which the helper ships in batches) and
 * writes. Both are counted until they have landed; a failure among them is kept, by
 * object, and thrown by the thread's next call on that object or by `settle`.
 */
import { receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import { SharedQueue } from '../queues/shared-queue.js';
import { waitAsync, waitSync } from '../sync/waiting.js';
import { ACKS, decodeReply, FAILURES, HELPER_GONE, INFLIGHT, type OutboxRegistration, type ProxyRef } from './protocol.js';

/** What the outboxes need of a thread's helper. */
export interface HelperLink {
  readonly worker: Worker;
  readonly flag: Int32Array;
  readonly window: Int32Array;
  readonly failedPort: MessagePort;
}

/** Bytes of each outbox: a thread that fills it waits for the helper (flow control). */
const OUTBOX_BYTES = 4 << 20;
/** Bytes of records per batch the helper ships. */
const BATCH_BYTES = 256 << 10;

const keyOf = (ref: ProxyRef): string => `${ref.addr}#${ref.id}`;
const tooLarge = (err: unknown): boolean => err instanceof RangeError && /cannot fit/.test(err.message);

type Call = (ref: ProxyRef, op: string, args: unknown[]) => unknown;

/** One thread's outboxes and the failures of what it sent ahead. */
export class Outboxes {
  readonly #boxes = new Map<string, SharedQueue>();
  /** Failures not yet reported, by object. */
  readonly #failures = new Map<string, unknown>();
  #failuresSeen = 0;
  readonly #helper: () => HelperLink;
  readonly #gone: (h: HelperLink) => Error;
  readonly #call: Call;
  readonly #callSync: Call;

  /**
   * `helper` gives this thread's live helper, `gone` the error of one that exited (and
   * forgets it); the calls are the thread's own.
   */
  constructor(helper: () => HelperLink, gone: (h: HelperLink) => Error, call: Call, callSync: Call) {
    this.#helper = helper;
    this.#gone = gone;
    this.#call = call;
    this.#callSync = callSync;
  }

  /** Forgets every outbox (their helper is gone, and what was in them with it). */
  clear(): void {
    this.#boxes.clear();
    this.#failuresSeen = 0;
  }

  #collect(h: HelperLink): void {
    this.#failuresSeen = Atomics.load(h.window, FAILURES);
    for (let m = receiveMessageOnPort(h.failedPort); m !== undefined; m = receiveMessageOnPort(h.failedPort)) {
      const [object, frame] = m.message as [string, Uint8Array];
      if (!this.#failures.has(object)) this.#failures.set(object, deserializeError(decodeReply(frame)[1] as SerializedError));
    }
  }

  /** Throws the failure of an earlier put or write of this thread into `ref` (into any object when undefined). */
  throwFailure(ref: ProxyRef | undefined, h?: HelperLink): void {
    if (h !== undefined && Atomics.load(h.window, FAILURES) !== this.#failuresSeen) this.#collect(h);
    if (this.#failures.size === 0) return;
    const key = ref === undefined ? this.#failures.keys().next().value! : keyOf(ref);
    if (!this.#failures.has(key)) return;
    const err = this.#failures.get(key);
    this.#failures.delete(key);
    throw err;
  }

  #outboxFor(ref: ProxyRef): SharedQueue {
    const key = keyOf(ref);
    let outbox = this.#boxes.get(key);
    if (outbox === undefined) {
      const h = this.#helper();
      // A batch, and a record in it, stay well below the owner's frame limit.
      const quarter = Math.floor(ref.maxFrame / 4);
      outbox = new SharedQueue({ capacityBytes: Math.min(OUTBOX_BYTES, quarter) });
      outbox._publishes = false;
      this.#boxes.set(key, outbox);
      h.worker.postMessage({
        outbox,
        addr: ref.addr,
        key: ref.key,
        pid: ref.pid,
        objectId: ref.id,
        batchBytes: Math.min(BATCH_BYTES, quarter),
        maxFrame: ref.maxFrame,
      } satisfies OutboxRegistration);
    }
    return outbox;
  }

  /** Puts `item` into the owner's queue through this thread's outbox. */
  enqueueSync(ref: ProxyRef, item: unknown): void {
    const h = this.#helper();
    this.throwFailure(ref, h);
    try {
      this.#outboxFor(ref).putSync(item);
    } catch (err) {
      if (!tooLarge(err)) throw err;
      // Larger than the outbox: after what is in it, on its own.
      this.settleSync(h, ref);
      this.#callSync(ref, 'put', [item, undefined]);
    }
  }

  /** `enqueueSync` that waits for room in the outbox with the event loop free. */
  async enqueue(ref: ProxyRef, item: unknown): Promise<void> {
    const h = this.#helper();
    this.throwFailure(ref, h);
    try {
      await this.#outboxFor(ref).put(item);
    } catch (err) {
      if (!tooLarge(err)) throw err;
      await this.settle(h, ref);
      await this.#call(ref, 'put', [item, undefined]);
    }
  }

  #unsettled(h: HelperLink): boolean {
    if (Atomics.load(h.window, INFLIGHT) > 0) return true;
    for (const outbox of this.#boxes.values()) if (outbox.qsize() > 0) return true;
    return false;
  }

  /** Throws if `h` exited (nothing it held will land). */
  #checkAlive(h: HelperLink): void {
    if (Atomics.load(h.window, HELPER_GONE) === 1) throw this.#gone(h);
  }

  /** Waits until what was sent ahead through `h` has landed, then throws a failure into `ref`; false if `giveUpAt` came first. */
  settleSync(h: HelperLink | undefined, ref?: ProxyRef, giveUpAt = Infinity, report = true): boolean {
    if (h === undefined) return true;
    for (let acks = Atomics.load(h.window, ACKS); this.#unsettled(h); acks = Atomics.load(h.window, ACKS)) {
      this.#checkAlive(h);
      if (performance.now() >= giveUpAt) return false;
      waitSync(h.window, ACKS, acks, giveUpAt);
    }
    if (report) this.throwFailure(ref, h);
    return true;
  }

  /** `settleSync` with the event loop free. */
  async settle(h: HelperLink | undefined, ref?: ProxyRef, giveUpAt = Infinity, report = true): Promise<boolean> {
    if (h === undefined) return true;
    for (let acks = Atomics.load(h.window, ACKS); this.#unsettled(h); acks = Atomics.load(h.window, ACKS)) {
      this.#checkAlive(h);
      if (performance.now() >= giveUpAt) return false;
      await waitAsync(h.window, ACKS, acks, giveUpAt);
    }
    if (report) this.throwFailure(ref, h);
    return true;
  }
}
