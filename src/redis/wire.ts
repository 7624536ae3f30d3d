/**
 * What travels through Redis, and how it is signed. BullMQ stores a job's data and its
 * return value as JSON; concur's arguments and results travel inside that JSON as
 * 'j' + JSON when they are flat JSON (a primitive, or one array or plain object of
 * primitives: JSON gives back exactly what a structured clone would), else as 'v' +
 * base64 of their structured clone (v8.serialize), so a Date, a Map or an ArrayBuffer
 * comes back as itself. A structured clone and its base64 cost a tiny job about 10 us
 * on each side, JSON well under 1. Errors are always structured clones.
 *
 *   executor ── job data {concur: 4, n, p, k, m, a, t, s} ──▶ worker
 *   executor ◀── return value {concur: 4, v, s} ────────────── worker
 *   executor ◀── failedReason "summary\n#concur:4:<error>:<sig>" ─ worker
 *
 * Every signature is an HMAC-SHA256, with the key the executor and its workers share,
 * over the fields and the job's queue and id: a job or a result cannot be moved to
 * another job, and whoever can only write to Redis can make neither.
 *
 * Field names are one letter, fields at their default are left out, and signatures are
 * base64url (43 characters, not hex's 64): every byte of a job crosses the network three
 * times (to Redis, to the worker, and its result back through the event stream), and
 * Redis, BullMQ and both ends pay per byte. The version keeps its long name, `concur`,
 * so that a worker of an older version names the version it was sent.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { AuthenticationError, WorkerCrashedError } from '../futures/errors.js';
import type { TaskMode } from '../futures/task-mode.js';
import { deserializeError, serializeError } from '../transport/errors.js';
import type { PortableTask } from './names.js';
import { sendingData } from '../sync/views.js';

/**
 * The format version of jobs and results this code writes and reads. 3: a worker asks
 * a job's executor before its task starts (a worker of version 2 would not wait). 4: the
 * short field names and base64url signatures above. 5: packs of tiny tasks (packs.ts), and
 * a result says how long its task ran.
 */
export const FORMAT = 5;

/** A job's data, as BullMQ stores it. */
export interface JobData {
  readonly concur: number;
  /** The task's name (its defineTasks key, or an inline function's name). */
  readonly n: string;
  /** A module task's path from its package root; absent for an inline task. */
  readonly p?: string;
  /** A module task's package name; absent when it has none. */
  readonly k?: string;
  /** An inline task's source; absent for a module task. */
  readonly i?: string;
  /** The TaskMode; absent for CALL (0). */
  readonly m?: TaskMode;
  /** The argument array (or chunk), encoded by `encodeValue`. */
  readonly a: string;
  /** The timeout in milliseconds; absent for none. */
  readonly t?: number;
  /** The signature. */
  readonly s: string;
}

/** A job's return value, as BullMQ stores it. */
export interface ResultData {
  readonly concur: number;
  /** The result, encoded by `encodeValue`. */
  readonly v: string;
  /** Milliseconds the task ran in the worker's pool; absent when not measured. */
  readonly d?: number;
  /** The signature. */
  readonly s: string;
}

/** Shortest signing key accepted, in bytes. */
const MIN_KEY_BYTES = 16;

/** Where a signing key may come from. */
export interface KeyOptions {
  /** The key itself (at least 16 bytes). */
  key?: string | Buffer;
  /** A file holding the key, as bytes (a final newline is dropped). */
  keyFile?: string;
}

/** The signing key: `key`, else `keyFile`, else $CONCUR_KEY_FILE, else $CONCUR_KEY; throws saying how to give one. */
export function loadKey(options: KeyOptions, who: string): Buffer {
  let key: Buffer | undefined;
  let from: string;
  if (options.key !== undefined) {
    if (typeof options.key !== 'string' && !Buffer.isBuffer(options.key)) throw new TypeError(`${who}: key must be a string or a Buffer`);
    key = Buffer.from(options.key);
    from = 'the key option';
  } else if (options.keyFile !== undefined || process.env.CONCUR_KEY_FILE) {
    const file = options.keyFile ?? process.env.CONCUR_KEY_FILE!;
    from = `key file ${file}`;
    try {
      // Its bytes, not its text: a key of random bytes decoded as UTF-8 would lose every byte of an invalid sequence to U+FFFD.
      const bytes = readFileSync(file);
      const end = bytes.at(-1) === 0x0a ? (bytes.at(-2) === 0x0d ? bytes.length - 2 : bytes.length - 1) : bytes.length;
      key = bytes.subarray(0, end);
    } catch (err) {
      throw new Error(`${who}: cannot read ${from}: ${(err as Error).message}`);
    }
  } else if (process.env.CONCUR_KEY) {
    key = Buffer.from(process.env.CONCUR_KEY);
    from = '$CONCUR_KEY';
  } else {
    throw new Error(
      `${who} needs the signing key its executors and workers share: pass key or keyFile, or set CONCUR_KEY ` +
        '(jobs are signed so that whoever can write to Redis cannot run code on a worker)',
    );
  }
  if (key.length < MIN_KEY_BYTES) throw new RangeError(`${who}: the signing key from ${from} must be at least ${MIN_KEY_BYTES} bytes, got ${key.length}`);
  return key;
}

/**
 * Each key's KeyObject, made once: createHmac with a raw Buffer imports the key on every
 * call, which was a tenth of a tiny job's signing cost. Keyed by the Buffer an executor or
 * worker holds for its life, so the cache empties with them.
 */
const keyObjects = new WeakMap<Buffer, KeyObject>();

/** The HMAC-SHA256 of `parts` (as JSON) with `key`, in base64url. */
export function hmac(key: Buffer, parts: readonly unknown[]): string {
  let k = keyObjects.get(key);
  if (k === undefined) {
    k = createSecretKey(key);
    keyObjects.set(key, k);
  }
  return createHmac('sha256', k).update(JSON.stringify(parts)).digest('base64url');
}

/** Compares two signatures in constant time. */
export function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function taskParts(task: PortableTask): unknown[] {
  return task.kind === 'module' ? ['module', task.path, task.package, task.name] : ['inline', task.source, task.name];
}

function jobParts(queue: string, jobId: string, task: PortableTask, mode: TaskMode, args: string, timeout: number | null): unknown[] {
  return ['concur-job', FORMAT, queue, jobId, ...taskParts(task), mode, timeout, args];
}

/** The fields that name a task and its mode in a job's data (or a pack member's). */
export type TaskFields = Pick<JobData, 'n' | 'p' | 'k' | 'i' | 'm'>;

/** A task and mode as the fields of a job's data, those at their default left out. */
export function taskFields(task: PortableTask, mode: TaskMode): TaskFields {
  const d: { -readonly [K in keyof TaskFields]: TaskFields[K] } = { n: task.name };
  if (task.kind === 'module') {
    d.p = task.path;
    if (task.package !== '') d.k = task.package;
  } else d.i = task.source;
  if (mode !== 0) d.m = mode;
  return d;
}

/** Reads back `taskFields`; undefined when they are malformed. */
export function readTaskFields(d: Partial<TaskFields>): { task: PortableTask; mode: TaskMode } | undefined {
  const { n, p, k, i } = d;
  const mode = d.m ?? 0;
  const valid =
    typeof n === 'string' &&
    (p === undefined ? typeof i === 'string' && k === undefined : typeof p === 'string' && i === undefined && (k === undefined || typeof k === 'string')) &&
    (mode === 0 || mode === 1 || mode === 2);
  if (!valid) return undefined;
  return { task: p !== undefined ? { kind: 'module', path: p, package: k ?? '', name: n } : { kind: 'inline', source: i!, name: n }, mode };
}

/** Builds and signs a job's data. */
export function makeJob(key: Buffer, queue: string, jobId: string, task: PortableTask, mode: TaskMode, args: string, timeout: number | null): JobData {
  const s = hmac(key, jobParts(queue, jobId, task, mode, args, timeout));
  const d: { -readonly [K in keyof JobData]: JobData[K] } = { concur: FORMAT, ...taskFields(task, mode), a: args, s };
  if (timeout !== null) d.t = timeout;
  return d;
}

/** A job read back: its task, mode, arguments and timeout. */
export interface JobRequest {
  readonly task: PortableTask;
  readonly mode: TaskMode;
  readonly args: string;
  readonly timeout: number | null;
}

/** A job's request when it can be run here, else why not (its version, its shape or its signature). */
export function checkJob(key: Buffer, queue: string, jobId: string, data: unknown): JobRequest | string {
  const d = data as Partial<JobData> & { concur?: unknown };
  if (d === null || typeof d !== 'object' || typeof d.concur !== 'number') return `job ${jobId} is not a concur job (no format version)`;
  if (d.concur !== FORMAT) return `job ${jobId} has format version ${d.concur}; this worker reads version ${FORMAT}`;
  const { a, s } = d;
  const timeout = d.t ?? null;
  const fields = readTaskFields(d);
  if (fields === undefined || typeof a !== 'string' || (timeout !== null && typeof timeout !== 'number') || typeof s !== 'string') return `job ${jobId} is malformed`;
  const { task, mode } = fields;
  if (!same(s, hmac(key, jobParts(queue, jobId, task, mode, a, timeout)))) {
    return `job ${jobId} is not signed with this worker's key: refused without running`;
  }
  return { task, mode, args: a, timeout };
}

/** A primitive that JSON gives back as itself (not -0, NaN or an infinity, which JSON changes). */
function jsonPrimitive(v: unknown): boolean {
  const t = typeof v;
  return v === null || t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(v) && !Object.is(v, -0));
}

/**
 * True when JSON round-trips `value` exactly as a structured clone would: a primitive, or
 * one dense array (no other own keys) or plain object (data properties only) whose values
 * are all such primitives. Nested containers are left to v8: two references to one
 * object stay one object there, and JSON would split them.
 */
function flatJson(value: unknown): boolean {
  if (jsonPrimitive(value)) return true;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    const n = value.length;
    for (let i = 0; i < n; i++) if (!(i in value) || !jsonPrimitive(value[i])) return false;
    return Object.keys(value).length === n;
  }
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const props = Object.getOwnPropertyDescriptors(value);
  for (const k in props) {
    const d = props[k]!;
    if (d.enumerable && (d.get !== undefined || d.set !== undefined || !jsonPrimitive(d.value))) return false;
  }
  return true;
}

/** A value as text for a job's data or result (see above); throws a TypeError naming `what` when it cannot be cloned. */
export function encodeValue(value: unknown, what: string): string {
  if (flatJson(value)) return `j${JSON.stringify(value)}`;
  try {
    return `v${sendingData(value, serialize).toString('base64')}`;
  } catch (err) {
    throw new TypeError(`${what} cannot be sent through Redis: ${(err as Error).message}`);
  }
}

/** Reads back `encodeValue`. */
export function decodeValue(text: string): unknown {
  if (text.startsWith('j')) return JSON.parse(text.slice(1));
  if (text.startsWith('v')) return deserialize(Buffer.from(text.slice(1), 'base64'));
  throw new TypeError(`not an encoded value (it starts with ${JSON.stringify(text.slice(0, 1))})`);
}

/** Signs a result (already encoded), with how long its task ran (`ms`) when measured. */
export function makeResult(key: Buffer, queue: string, jobId: string, value: string, ms?: number): ResultData {
  if (ms === undefined) return { concur: FORMAT, v: value, s: hmac(key, ['concur-result', FORMAT, queue, jobId, value]) };
  const d = Math.round(ms * 1000) / 1000;
  return { concur: FORMAT, v: value, d, s: hmac(key, ['concur-result', FORMAT, queue, jobId, value, d]) };
}

const MARK = '\n#concur:';

/** The failedReason a worker reports for `error`: a readable line, then the signed structured error. */
export function failureText(key: Buffer, queue: string, jobId: string, error: unknown): string {
  const payload = serialize(serializeError(error)).toString('base64');
  let summary: string;
  try {
    summary = error instanceof Error ? `${error.name}: ${error.message}` : `thrown: ${String(error)}`;
  } catch {
    summary = 'thrown: an unprintable value';
  }
  return `${summary.slice(0, 500)}${MARK}${FORMAT}:${payload}:${hmac(key, ['concur-error', FORMAT, queue, jobId, payload])}`;
}

/** What a finished job came to, as seen by its executor (`ms`: how long its task ran, when the worker said). */
export type Outcome = { ok: true; value: unknown; ms?: number } | { ok: false; error: unknown };

/** Reads a job's return value: the result, or an AuthenticationError when it is not signed with our key. */
export function readResult(key: Buffer, queue: string, jobId: string, data: unknown, task: string): Outcome {
  const d = data as Partial<ResultData> | null;
  if (d !== null && typeof d === 'object' && typeof d.concur === 'number' && d.concur !== FORMAT) {
    return { ok: false, error: new Error(`job ${jobId} (${task}): its result has format version ${d.concur}; this executor reads version ${FORMAT}`) };
  }
  if (d === null || typeof d !== 'object' || typeof d.v !== 'string' || typeof d.s !== 'string') {
    return { ok: false, error: new AuthenticationError(`job ${jobId} (${task}) finished with a return value that is not a concur result`) };
  }
  const ms = typeof d.d === 'number' && Number.isFinite(d.d) ? d.d : undefined;
  if (!same(d.s, hmac(key, ms === undefined ? ['concur-result', FORMAT, queue, jobId, d.v] : ['concur-result', FORMAT, queue, jobId, d.v, ms]))) {
    return { ok: false, error: new AuthenticationError(`the result of job ${jobId} (${task}) is not signed with this executor's key (a worker with another key, or a forged result)`) };
  }
  try {
    return ms === undefined ? { ok: true, value: decodeValue(d.v) } : { ok: true, value: decodeValue(d.v), ms };
  } catch (err) {
    return { ok: false, error: new Error(`the result of job ${jobId} (${task}) cannot be read: ${(err as Error).message}`) };
  }
}

/** BullMQ's own reason for a job whose workers kept dying (it stalled too often). */
const STALLED = /stalled more than allowable limit/;

/** Reads a job's failedReason: the task's error as it was thrown, or what BullMQ or a stranger reported. */
export function readFailure(key: Buffer, queue: string, jobId: string, reason: unknown, task: string): unknown {
  const text = typeof reason === 'string' ? reason : String(reason);
  const at = text.lastIndexOf(MARK);
  if (at < 0) {
    if (STALLED.test(text)) {
      return new WorkerCrashedError(`the Redis workers running job ${jobId} (${task}) died or lost its lock too often: ${text}`, null);
    }
    return new Error(`job ${jobId} (${task}) failed: ${text}`);
  }
  const summary = text.slice(0, at);
  const [version, payload, sig] = text.slice(at + MARK.length).split(':');
  if (Number(version) !== FORMAT) return new Error(`job ${jobId} (${task}) failed with an error of format version ${version}: ${summary}`);
  if (payload === undefined || sig === undefined || !same(sig, hmac(key, ['concur-error', FORMAT, queue, jobId, payload]))) {
    return new AuthenticationError(
      `the failure of job ${jobId} (${task}) is not signed with this executor's key (a worker with another key, or a forged report); the worker said: ${summary}`,
    );
  }
  try {
    return deserializeError(deserialize(Buffer.from(payload, 'base64')));
  } catch (err) {
    return new Error(`job ${jobId} (${task}) failed (${summary}), and its error cannot be read: ${(err as Error).message}`);
  }
}
