/**
 * The manager's server process. Its main thread starts the process's broker at the
 * manager's address, with the manager's authkey, and shares the root object; the
 * broker thread then serves everything (see served.ts). The main thread only reports
 * where it listens and waits for the word to stop (or for its starter to be gone); it
 * makes no proxy call, so it never boots a helper thread of its own.
 */
import { crypto } from '../util/lazy-builtin.js';
import { brokerListening, callInBroker, configureBroker, exportObject } from '../proxy/owner.js';
import type { FunctionSpec } from '../tasks/describe.js';
import { defineTasks } from '../tasks/registry.js';
import { serializeError } from '../transport/errors.js';
import type { Connection } from '../transport/pipe.js';
import { ROOT_ID } from './refs.js';
import { ManagerRoot } from './served.js';

/** What the starter tells its server. */
export interface ServerConfig {
  /** A socket path or `tcp://host:port`; a fresh socket path when undefined. */
  path: string | undefined;
  key: string;
  initializer: FunctionSpec | undefined;
  initargs: unknown[];
  /** The callTimeout (ms, or Infinity) every proxy it hands out carries. */
  callTimeout: number;
}

/** What the server answers once it listens (or why it could not). */
export type ServerReport =
  | { ok: true; addr: string; pid: number; maxFrame: number; token: string }
  | { ok: false; error: ReturnType<typeof serializeError> };

export const serverTasks = defineTasks(import.meta.url, {
  /** The server process's target: serves until its starter says stop or goes away. */
  async concurManagerServer(pipe: Connection, config: ServerConfig): Promise<void> {
    try {
      configureBroker({ path: config.path, key: config.key });
      const ref = exportObject(new ManagerRoot(config.initializer, config.initargs));
      if (ref.id !== ROOT_ID) throw new Error(`concur: the manager's root was shared as object ${ref.id}, not ${ROOT_ID}`);
      // A TCP port 0 became a real port: the root's reference takes it.
      const root = { ...ref, addr: await brokerListening() };
      const token = crypto().randomBytes(12).toString('hex');
      await callInBroker(root, 'start', [root, token, config.callTimeout]);
      pipe.send({ ok: true, addr: root.addr, pid: process.pid, maxFrame: root.maxFrame, token } satisfies ServerReport);
    } catch (err) {
      pipe.send({ ok: false, error: serializeError(err) } satisfies ServerReport);
      return;
    }
    try {
      await pipe.recv(); // 'shutdown'
    } catch {
      // the starter is gone: so is the manager
    }
  },
});
