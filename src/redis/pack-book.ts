/**
 * The packs a RedisExecutor has sent (see packs.ts), until they end: each member's Future
 * is settled by its own outcome in the pack's result; a pack whose workers kept dying
 * sends its members again, each alone; a member cancelled while the rest of its pack
 * waits is written down as withdrawn, its mark deleted once the pack is done with.
 */
import type { Redis } from 'ioredis';
import { AuthenticationError, WorkerCrashedError } from '../futures/errors.js';
import { LOCAL, type Entry } from './executor-types.js';
import { readPackResult, type TaskTimes } from './packs.js';
import { decodeValue, readFailure, type Outcome } from './wire.js';

/** What a PackBook needs of its executor. */
export interface PackHost {
  /** The signing key. */
  readonly key: Buffer;
  readonly queueName: string;
  /** The command connection. */
  readonly redis: Redis;
  /** Seconds a withdrawn mark lives at most. */
  readonly keepFinished: number;
  readonly times: TaskTimes;
  /** The Futures not yet done, by id. */
  readonly pending: { has(id: string): boolean };
  /** The key of a member's withdrawn mark. */
  markKey(memberId: string): string;
  settle(e: Entry, outcome: Outcome): void;
  /** The member's Future goes RUNNING, if it is PENDING. */
  onActive(id: string): void;
  /** Sends a member again, alone. */
  resend(e: Entry): void;
  /** The job's records may leave Redis. */
  forget(jobId: string): void;
  /** A task's time was learned. */
  timed(): void;
  /** Tracks work in flight, for shutdown. */
  chore(p: Promise<unknown>): void;
}

/** The packs sent and not yet ended. */
export class PackBook {
  readonly #host: PackHost;
  /** The packs sent, by job id: their members, in order. */
  readonly packs = new Map<string, Entry[]>();
  /** Packs with members cancelled while the rest wait: those members' withdrawn marks, deleted with the pack. */
  readonly #marked = new Map<string, string[]>();

  /** Keeps the packs of `host`. */
  constructor(host: PackHost) {
    this.#host = host;
  }

  /** The members of the pack `jobId`, or undefined when it is no pack of ours (or ended). */
  get(jobId: string): Entry[] | undefined {
    return this.packs.get(jobId);
  }

  /**
   * The job `jobId` never got to Redis (its addBulk failed): a pack is forgotten; marks of
   * its cancelled members are left to their TTL, in case the pack got into Redis all the same.
   */
  unsent(jobId: string): void {
    if (this.packs.delete(jobId)) this.#marked.delete(jobId);
  }

  /** The pack `packId` was removed before it ran: nothing more comes of it. */
  drop(packId: string): void {
    this.packs.delete(packId);
    this.unmark(packId);
  }

  /** A pack's job ended: completed (`returnvalue`, JSON) or failed (`failedReason`): each member has its outcome. */
  ended(packId: string, members: Entry[], returnvalue: string | undefined, failedReason: string | undefined): void {
    this.packs.delete(packId);
    this.unmark(packId);
    this.#host.forget(packId);
    const what = `a pack of ${members.length} tasks`;
    if (failedReason !== undefined) {
      const error = readFailure(this.#host.key, this.#host.queueName, packId, failedReason, what);
      if (error instanceof WorkerCrashedError) {
        // Its workers kept dying: one member may be what kills them. Each goes again
        // alone, so that only that one fails (the others run again: at least once).
        for (const e of members) {
          if (!this.#host.pending.has(e.id)) continue;
          e.packable = false;
          e.jobId = e.id;
          e.added = false;
          e.state = LOCAL;
          this.#host.resend(e);
        }
        return;
      }
      for (const e of members) this.#host.settle(e, { ok: false, error });
      return;
    }
    // The pack ran: every member still waiting ran or was refused, so none may be
    // cancelled now (by a done-callback of a member settled before it, say).
    for (const e of members) {
      e.job = undefined;
      this.#host.onActive(e.id);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(returnvalue ?? 'null');
    } catch {
      parsed = undefined;
    }
    const outcomes = readPackResult(this.#host.key, this.#host.queueName, packId, parsed, members.length);
    if (typeof outcomes === 'string') {
      const error = /not signed/.test(outcomes) ? new AuthenticationError(outcomes) : new Error(outcomes);
      for (const e of members) this.#host.settle(e, { ok: false, error });
      return;
    }
    members.forEach((e, i) => {
      const [ok, text, ms] = outcomes[i]!;
      if (!this.#host.pending.has(e.id)) return;
      this.#host.times.record(e.times, ms);
      if (ok === 0) {
        this.#host.settle(e, { ok: false, error: readFailure(this.#host.key, this.#host.queueName, e.id, text, e.task) });
        return;
      }
      let outcome: Outcome;
      try {
        outcome = { ok: true, value: decodeValue(text) };
      } catch (err) {
        outcome = { ok: false, error: new Error(`the result of job ${e.id} (${e.task}) cannot be read: ${(err as Error).message}`) };
      }
      this.#host.settle(e, outcome);
    });
    this.#host.timed();
  }

  /** A pack's job is gone before it finished (`how`): its members that wait fail. */
  gone(packId: string, members: Entry[], how: string): void {
    this.packs.delete(packId);
    this.unmark(packId);
    for (const e of members) this.#host.settle(e, { ok: false, error: new Error(`job ${e.id} (${e.task}), in pack ${packId}, ${how}`) });
  }

  /**
   * A member of a pack whose other members wait is cancelled: its pack's go names it, and
   * a worker that goes on without a go (our lease gone) finds it written down as withdrawn.
   */
  async markWithdrawn(packId: string, memberId: string): Promise<void> {
    const mark = this.#host.markKey(memberId);
    const marks = this.#marked.get(packId);
    if (marks === undefined) this.#marked.set(packId, [mark]);
    else marks.push(mark);
    try {
      await this.#host.redis.set(mark, '1', 'EX', this.#host.keepFinished);
    } catch {
      // Redis is gone: the lease lapses too, and the Futures go RUNNING (see lease.ts)
    }
  }

  /** The pack `packId` is done with: its members' marks go. */
  unmark(packId: string): void {
    const marks = this.#marked.get(packId);
    if (marks === undefined) return;
    this.#marked.delete(packId);
    this.#host.chore(this.#host.redis.del(...marks).catch(() => {}));
  }
}
