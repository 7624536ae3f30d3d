/**
 * Packs: many tiny tasks in one BullMQ job.
 *
 * A BullMQ job costs its Lua scripts, its events and its hash whatever its task does: for
 * a task of a few microseconds that is nearly all of it. So an executor that has many
 * Futures to send at once, of tasks its workers have reported as tiny, sends them in packs:
 *
 *   outbox: a b A c d e B f ...        (lower case: tasks known to run in <= TINY_MS)
 *        ─▶ [a b c d] A [e f ...] B    (packs of up to PACK_MAX, SPREAD packs at least,
 *                                       so that every worker still gets a share)
 *   worker: one go for the pack (members cancelled meanwhile listed: they never run),
 *           every member run in one pool task, each its own outcome
 *   executor ◀── completed {r: [[ok, value | failure, ms], ...]} ── each member's Future settles
 *
 * A task is known tiny once SEEN results of it said how long it ran (every result does,
 * `d`), and the median of the latest of them is at most TINY_MS; until then its Futures go one job
 * each, so a long task is never held behind others in a pack. A backlog of a task not yet
 * timed (2 * SPREAD Futures or more) sends PROBE of them first, and the rest waits until
 * their times are in, or HOLD_MS at most once one started (a long task; HOLD_MAX in all):
 * then it goes in packs or alone. Only Futures with no
 * timeout, retries, priority or signal are packed: those are a job's own options.
 * A pack runs again as a whole when its worker dies (delivery is at least once, as for
 * any job); a member that crashes its pool worker is run again alone, so it fails alone.
 */
import type { TaskMode } from '../futures/task-mode.js';
import type { PortableTask } from './names.js';
import { FORMAT, hmac, readTaskFields, same, taskFields, type TaskFields } from './wire.js';

/** A task's running mean must be at most this many milliseconds for it to be packed. */
export const TINY_MS = 1;
/** Results of a task seen before it may be packed. */
export const SEEN = 8;
/** The most members in a pack. */
export const PACK_MAX = 64;
/** A backlog is cut into at least this many packs, so that many workers share it. */
export const SPREAD = 32;
/** Futures of a task not yet timed sent first, alone, to time it, when a backlog of it is to be sent. */
export const PROBE = 2 * SEEN;
/** The most milliseconds the rest of such a backlog waits for the probes' times once one of them started. */
export const HOLD_MS = 300;
/** The most milliseconds it waits for them at all (workers busy with other jobs, or none there). */
export const HOLD_MAX = 2000;

/** One member of a pack, as the job's data holds it (the field names of a job's data). */
export interface PackMember extends TaskFields {
  /** The member's own id (its Future's jobId): errors and signatures name it. */
  readonly x: string;
  /** The arguments, encoded by `encodeValue`. */
  readonly a: string;
}

/** A pack's data, as BullMQ stores it. */
export interface PackData {
  readonly concur: number;
  /** The members, in submission order. */
  readonly b: readonly PackMember[];
  readonly s: string;
}

/** A member's outcome in a pack's result: 1 and the encoded value, or 0 and its failureText; then the ms it ran. */
export type MemberOutcome = [ok: 0 | 1, text: string, ms: number];

/** A pack's return value, as BullMQ stores it. */
export interface PackResultData {
  readonly concur: number;
  readonly r: readonly MemberOutcome[];
  readonly s: string;
}

/** What the executor puts in a pack for one Future. */
export interface MemberRequest {
  readonly id: string;
  readonly task: PortableTask;
  readonly mode: TaskMode;
  readonly args: string;
}

/** Builds and signs a pack's data. */
export function makePack(key: Buffer, queue: string, packId: string, members: readonly MemberRequest[]): PackData {
  const b: PackMember[] = members.map((r) => ({ x: r.id, ...taskFields(r.task, r.mode), a: r.args }));
  return { concur: FORMAT, b, s: hmac(key, ['concur-pack', FORMAT, queue, packId, b]) };
}

/** Whether a job's data is a pack (of any version: checkPack says what is wrong with it). */
export function isPack(data: unknown): boolean {
  return data !== null && typeof data === 'object' && Array.isArray((data as { b?: unknown }).b);
}

/** A pack's members when it can be run here, else why not (its version, its shape or its signature). */
export function checkPack(key: Buffer, queue: string, packId: string, data: unknown): MemberRequest[] | string {
  const d = data as Partial<PackData> & { concur?: unknown };
  if (typeof d.concur !== 'number') return `job ${packId} is not a concur job (no format version)`;
  if (d.concur !== FORMAT) return `job ${packId} has format version ${d.concur}; this worker reads version ${FORMAT}`;
  if (!Array.isArray(d.b) || d.b.length === 0 || typeof d.s !== 'string') return `job ${packId} is malformed`;
  const out: MemberRequest[] = [];
  for (const m of d.b as Array<Partial<PackMember>>) {
    if (m === null || typeof m !== 'object') return `job ${packId} is malformed`;
    const fields = readTaskFields(m);
    if (fields === undefined || typeof m.x !== 'string' || typeof m.a !== 'string') return `job ${packId} is malformed`;
    out.push({ id: m.x, task: fields.task, mode: fields.mode, args: m.a });
  }
  if (!same(d.s, hmac(key, ['concur-pack', FORMAT, queue, packId, d.b]))) {
    return `job ${packId} is not signed with this worker's key: refused without running`;
  }
  return out;
}

/** Signs a pack's outcomes. */
export function makePackResult(key: Buffer, queue: string, packId: string, r: MemberOutcome[]): PackResultData {
  for (const o of r) o[2] = Math.round(o[2] * 1000) / 1000;
  return { concur: FORMAT, r, s: hmac(key, ['concur-pack-result', FORMAT, queue, packId, r]) };
}

/** A pack's outcomes from its return value, one per member, or why they cannot be read. */
export function readPackResult(key: Buffer, queue: string, packId: string, data: unknown, members: number): MemberOutcome[] | string {
  const d = data as Partial<PackResultData> | null;
  if (d === null || typeof d !== 'object' || typeof d.concur !== 'number') return `pack ${packId} finished with a return value that is not a concur result`;
  if (d.concur !== FORMAT) return `pack ${packId}: its result has format version ${d.concur}; this executor reads version ${FORMAT}`;
  if (!Array.isArray(d.r) || d.r.length !== members || typeof d.s !== 'string') return `pack ${packId} finished with a malformed result`;
  for (const o of d.r) {
    if (!Array.isArray(o) || (o[0] !== 0 && o[0] !== 1) || typeof o[1] !== 'string' || typeof o[2] !== 'number') return `pack ${packId} finished with a malformed result`;
  }
  if (!same(d.s, hmac(key, ['concur-pack-result', FORMAT, queue, packId, d.r]))) {
    return `the result of pack ${packId} is not signed with this executor's key (a worker with another key, or a forged result)`;
  }
  return d.r as MemberOutcome[];
}

/** Results of a task whose times decide whether it is tiny: the latest this many. */
const WINDOW = 16;

/** How long each task has run, as its workers report: which tasks are tiny enough to pack. */
export class TaskTimes {
  /**
   * The latest times of each task (a ring), how many were seen, and whether their median
   * is at most TINY_MS: a median, since a worker's first run of a task (its code not yet
   * compiled) can take many times as long as the rest.
   */
  readonly #seen = new Map<string, { times: number[]; n: number; tiny: boolean }>();
  /** Tasks whose probes went out: when, and when the first of them started. */
  readonly #probed = new Map<string, { sent: number; started: number | undefined }>();

  /**
   * For a backlog of `task` about to be sent at `now`: 'probe' (send PROBE of it, hold the
   * rest: the first call), 'hold' (probes are out, their times not yet in) or 'send'.
   */
  backlog(task: string, now: number): 'probe' | 'hold' | 'send' {
    const t = this.#seen.get(task);
    if (t !== undefined && t.n >= SEEN) return 'send';
    const p = this.#probed.get(task);
    if (p === undefined) {
      this.#probed.set(task, { sent: now, started: undefined });
      return 'probe';
    }
    const held = p.started === undefined ? now - p.sent < HOLD_MAX : now - p.started < HOLD_MS;
    return held ? 'hold' : 'send';
  }

  /** A Future of `task` started at `now`: the first after its probes went out starts their clock. */
  started(task: string, now: number): void {
    const p = this.#probed.get(task);
    if (p !== undefined && p.started === undefined) p.started = now;
  }

  /** A result of `task` said it ran `ms` milliseconds. */
  record(task: string, ms: number): void {
    let t = this.#seen.get(task);
    if (t === undefined) {
      t = { times: [], n: 0, tiny: false };
      this.#seen.set(task, t);
    }
    t.times[t.n++ % WINDOW] = ms;
    if (t.n < SEEN) return;
    const sorted = [...t.times].sort((a, b) => a - b);
    t.tiny = sorted[sorted.length >> 1]! <= TINY_MS;
  }

  /** Whether `task` is known to run in at most TINY_MS. */
  tiny(task: string): boolean {
    return this.#seen.get(task)?.tiny === true;
  }
}

/** One BullMQ job of a plan: a single item, or a pack of them. */
export type Planned<T> = { readonly single: T } | { readonly pack: T[] };

/**
 * Cuts `items` into singles and packs, in order (a pack where its first member was):
 * members are the items `packable` says yes to, in packs of the size that makes at
 * least SPREAD of them, at most PACK_MAX; none when that size is below 2. A pack left
 * with one member is a single.
 */
export function planPacks<T>(items: readonly T[], packable: (item: T) => boolean): Array<Planned<T>> {
  const yes = items.map(packable);
  let n = 0;
  for (const y of yes) if (y) n++;
  const size = Math.min(PACK_MAX, Math.ceil(n / SPREAD));
  if (size < 2) return items.map((single) => ({ single }));
  const out: Array<Planned<T>> = [];
  let open: { pack: T[]; at: number } | undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (!yes[i]) {
      out.push({ single: item });
      continue;
    }
    if (open === undefined) {
      open = { pack: [], at: out.length };
      out.push(open);
    }
    open.pack.push(item);
    if (open.pack.length === size) open = undefined;
  }
  if (open !== undefined && open.pack.length === 1) out[open.at] = { single: open.pack[0]! };
  return out.map((p) => ('pack' in p ? { pack: p.pack } : p));
}
