/**
 * The owner's side: sharing an object with other processes registers it with this
 * process's broker thread (started on first use) and returns the reference its proxies
 * carry. The socket lives in a fresh directory only this user can enter, and goes when
 * the process ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { THREAD_BOOTSTRAP } from '../threads/bootstrap.js';
import { entryUrl } from '../util/entry-url.js';
import type { ProxyRef } from './protocol.js';

interface Broker {
  readonly worker: Worker;
  readonly path: string;
  readonly key: string;
}

let broker: Broker | undefined;
let nextId = 1;
const refs = new WeakMap<object, ProxyRef>();

function startBroker(): Broker {
  // mkdtemp makes the directory 0700: nobody else can reach the socket inside it.
  const dir = mkdtempSync(join(tmpdir(), 'concur-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'broker.sock');
  // Web Crypto's global, not node:crypto: every worker loads this module, few start a broker.
  const key = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('hex');
  const worker = new Worker(THREAD_BOOTSTRAP, {
    eval: true,
    workerData: { entry: entryUrl(import.meta.url, 'proxy', 'broker-entry'), path, key },
    name: 'concur broker',
  });
  // It serves while others use what we shared; it never keeps this process alive.
  worker.unref();
  worker.on('error', (err) => {
    process.emitWarning(`concur: the broker that serves shared objects to other processes failed: ${err.message}`);
  });
  return { worker, path, key };
}

/** Shares `object` (a registered primitive) with other processes; returns how its proxies reach it. */
export function exportObject(object: object): ProxyRef {
  let ref = refs.get(object);
  if (ref !== undefined) return ref;
  broker ??= startBroker();
  ref = { addr: broker.path, key: broker.key, pid: process.pid, id: nextId++ };
  broker.worker.postMessage({ id: ref.id, object });
  refs.set(object, ref);
  return ref;
}
