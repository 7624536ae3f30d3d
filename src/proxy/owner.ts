/**
 * The owner's side: sharing an object with other processes registers it with this
 * process's broker thread (started on first use) and returns the reference its proxies
 * carry. The socket lives in a fresh directory only this user can enter, and goes when
 * the process ends.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { THREAD_BOOTSTRAP } from '../threads/bootstrap.js';
import { describe } from '../futures/future.js';
import { entryUrl } from '../util/entry-url.js';
import { onExitCleanup } from '../util/exit-cleanup.js';
import { ownedPrefix, sweepDeadOwners } from '../util/leftovers.js';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import { isTcp, type ProxyRef } from './protocol.js';

interface Broker {
  readonly worker: Worker;
  readonly path: string;
  readonly key: string;
  /** Settles once the broker listens (or failed to), with its address (a TCP port 0 replaced by the one it got). */
  readonly listening: Promise<string>;
}

/** The frame limit of proxy calls unless `configureProxies` sets another. */
export const DEFAULT_MAX_FRAME_BYTES = 64 << 20;
/** The smallest frame limit: a thread's outbox and its batches are sized from it. */
const MIN_MAX_FRAME_BYTES = 64 << 10;

/** Options of the proxies this process serves. */
export interface ProxyOptions {
  /**
   * Largest call or reply, in bytes, through a proxy of an object this process shares
   * (64 MiB by default). A caller whose call is larger gets a RangeError naming it; a
   * peer that announces a larger frame is disconnected.
   */
  maxFrameBytes?: number;
}

let maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
let broker: Broker | undefined;
let nextId = 1;
const refs = new WeakMap<object, ProxyRef>();

/** Sets the options of the objects this process shares; call it before the first is shared. */
export function configureProxies(options: ProxyOptions): void {
  if (broker !== undefined) throw new Error('concur: configureProxies() must be called before the first object is shared with another process');
  const { maxFrameBytes: max = maxFrameBytes } = options;
  if (!Number.isInteger(max) || max < MIN_MAX_FRAME_BYTES || max > 2 ** 31 - 1) {
    throw new RangeError(`maxFrameBytes must be an integer from ${MIN_MAX_FRAME_BYTES} to ${2 ** 31 - 1}, got ${describe(max)}`);
  }
  maxFrameBytes = max;
}

/** Longest Unix socket path, in bytes (sun_path less its terminating NUL). */
export const SOCKET_PATH_MAX = process.platform === 'linux' ? 107 : 103;
const SOCKET_NAME = 'broker.sock';
const DIR_PREFIX = 'concur-';
/** Where to look when TMPDIR is too long for a socket path, as CPython's multiprocessing does. */
const FALLBACK_DIRS = ['/tmp', '/var/tmp', '/usr/tmp'];

/**
 * Makes an owner-only directory (mkdtemp makes it 0700) in the first of `candidates`
 * where the socket path fits, and returns it with the socket's path. A path never gets
 * cut short: the OS would silently bind a different, shorter name, outside the directory.
 */
export function socketPathIn(candidates: readonly string[]): { dir: string; path: string } {
  const tried: string[] = [];
  for (const base of new Set(candidates)) {
    // The owner's pid goes in the name (so a later program can sweep it once the owner
    // is gone), and mkdtemp appends six characters to the prefix.
    const prefix = ownedPrefix(DIR_PREFIX);
    const bytes = Buffer.byteLength(join(base, `${prefix}XXXXXX`, SOCKET_NAME));
    if (bytes > SOCKET_PATH_MAX) {
      tried.push(`${base} (${bytes} bytes)`);
      continue;
    }
    let dir: string;
    try {
      sweepDeadOwners(base, DIR_PREFIX);
      dir = mkdtempSync(join(base, prefix));
    } catch (err) {
      tried.push(`${base} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      continue;
    }
    return { dir, path: join(dir, SOCKET_NAME) };
  }
  throw new Error(
    `concur: no directory gives the socket of shared objects a path within the Unix limit of ${SOCKET_PATH_MAX} bytes ` +
      `(tried ${tried.join(', ')}); set TMPDIR to a shorter, writable directory`,
  );
}

/** Where and with which key the broker listens, when not in a fresh directory with a random key (a manager's server). */
let brokerPlace: { path?: string; key?: string } = {};

/**
 * @internal Sets the address (a socket path or `tcp://host:port`) and authkey (hex) of
 * this process's broker, for a process that serves at a given address (a manager's
 * server); before the first share.
 */
export function configureBroker(place: { path?: string; key?: string }): void {
  if (broker !== undefined) throw new Error('concur: configureBroker() must be called before the first object is shared with another process');
  brokerPlace = place;
}

/** @internal Resolves once this process's broker listens, with its address; rejects if it could not. */
export function brokerListening(): Promise<string> {
  return broker?.listening ?? Promise.reject(new Error('concur: no broker has started in this process'));
}

function startBroker(): Broker {
  let path = brokerPlace.path;
  if (path === undefined) {
    // Nobody else can enter the directory, so nobody else can reach the socket inside it.
    const made = socketPathIn([tmpdir(), ...FALLBACK_DIRS.filter((d) => existsSync(d))]);
    path = made.path;
    onExitCleanup(() => rmSync(made.dir, { recursive: true, force: true }));
  }
  // Web Crypto's global, not node:crypto: every worker loads this module, few start a broker.
  const key = brokerPlace.key ?? Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('hex');
  const worker = new Worker(THREAD_BOOTSTRAP, {
    eval: true,
    workerData: { entry: entryUrl(import.meta.url, 'proxy', 'broker-entry'), path, key, maxFrameBytes },
    name: 'concur broker',
    // Lanes (lane-server.ts) open FIFOs with fs and hand their fds to libuv pipes, which
    // close them: tracked, a number reused later would be taken for one opened twice.
    trackUnmanagedFds: false,
  });
  // It serves while others use what we shared; it never keeps this process alive.
  worker.unref();
  worker.on('error', (err) => {
    process.emitWarning(`concur: the broker that serves shared objects to other processes failed: ${err.message}`);
  });
  const listening = new Promise<string>((resolve, reject) => {
    worker.on('message', (m: unknown) => {
      if (m === 'listening') resolve(path);
      else if (m !== null && typeof m === 'object' && typeof (m as { listening?: unknown }).listening === 'string') resolve((m as { listening: string }).listening);
    });
    worker.once('error', reject);
    worker.once('exit', () => reject(new Error('concur: the broker thread exited before it listened')));
  });
  listening.catch(() => {}); // most owners never ask
  // A socket at a given path is removed on exit only once it is ours: a broker that
  // could not listen there (another server took the path first) must leave it alone.
  if (brokerPlace.path !== undefined && !isTcp(path)) {
    const socket = path;
    listening.then(() => onExitCleanup(() => rmSync(socket, { force: true })), () => {});
  }
  // After the listeners: a 'message' listener refs the worker's port again.
  worker.unref();
  return { worker, path, key, listening };
}

/**
 * @internal Calls `op` of an object this process shared, in the broker thread that
 * serves it: no socket, and no helper thread started in this one for it (~0.3 s of CPU).
 * Only for operations that count no caller (the manager server's start).
 */
export function callInBroker(ref: ProxyRef, op: string, args: unknown[]): Promise<unknown> {
  if (broker === undefined || ref.pid !== process.pid) return Promise.reject(new Error(`concur: object ${ref.id} is not shared by this process`));
  const { port1, port2 } = new MessageChannel();
  try {
    broker.worker.postMessage({ call: { id: ref.id, op, args }, port: port2 }, [port2]);
  } catch (err) {
    port1.close();
    return Promise.reject(err); // arguments the structured clone refuses
  }
  return new Promise((resolve, reject) => {
    port1.once('message', (m: { ok: true; value: unknown } | { ok: false; error: SerializedError }) => {
      port1.close();
      if (m.ok) resolve(m.value);
      else reject(deserializeError(m.error));
    });
    // The broker thread gone (its port closes with it): no answer will come.
    port1.once('close', () => reject(new Error(`concur: the broker thread ended before it answered ${op}`)));
  });
}

/** Shares `object` (a registered primitive) with other processes; returns how its proxies reach it. */
export function exportObject(object: object): ProxyRef {
  let ref = refs.get(object);
  if (ref !== undefined) return ref;
  broker ??= startBroker();
  ref = { addr: broker.path, key: broker.key, pid: process.pid, id: nextId++, maxFrame: maxFrameBytes };
  broker.worker.postMessage({ id: ref.id, object });
  refs.set(object, ref);
  return ref;
}
