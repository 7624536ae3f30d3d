/**
 * The owner's broker thread: serves the objects its process shared with other
 * processes, over a Unix socket only the owner's user can open, to clients that prove
 * they know the authkey. It runs beside the owner's own threads, so it answers even
 * while the owner's main thread is blocked in `acquireSync`.
 */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { createServer, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import '../sync/all-shared.js';
import { kindOf, reviveShared } from '../sync/shared.js';
import { REMOTE_OWNER_BASE } from '../sync/semlock.js';
import { serializeError } from '../transport/errors.js';
import { authenticateClient } from './auth.js';
import { FramedSocket } from './frames.js';
import { callIdOf, decodeCall, encodeReply } from './protocol.js';
import { SERVED, type Caller } from './served.js';

const { path, key } = workerData as { path: string; key: string };
const authkey = Buffer.from(key, 'hex');

const objects = new Map<number, object>();
// A call can outrun the registration of its object (they come by different routes).
const awaited = new Map<number, Array<() => void>>();

parentPort!.on('message', ({ id, object }: { id: number; object: object }) => {
  objects.set(id, reviveShared(object));
  for (const go of awaited.get(id) ?? []) go();
  awaited.delete(id);
});

function objectFor(id: number): object | Promise<object> {
  const found = objects.get(id);
  if (found !== undefined) return found;
  return new Promise((resolve) => {
    let list = awaited.get(id);
    if (list === undefined) awaited.set(id, (list = []));
    list.push(() => resolve(objects.get(id)!));
  });
}

let nextOwner = REMOTE_OWNER_BASE;

async function serve(socket: Socket): Promise<void> {
  const conn = new FramedSocket(socket);
  socket.on('error', () => socket.destroy());
  try {
    await authenticateClient(conn, authkey);
  } catch {
    socket.destroy();
    return;
  }
  const caller: Caller = { owner: nextOwner++, alive: true, puts: new Map() };
  socket.on('close', () => {
    caller.alive = false;
  });
  const reply = (callId: number, ok: 0 | 1, value: unknown): void => {
    if (callId !== 0 && caller.alive && !socket.destroyed) conn.send(encodeReply(callId, ok, value));
  };
  conn.onFrame((bytes) => {
    const callId = callIdOf(bytes);
    const [objectId, op, args] = decodeCall(bytes);
    const run = (target: object): void => {
      try {
        const fn = SERVED[kindOf(target)!]?.[op];
        if (fn === undefined) throw new TypeError(`a ${kindOf(target)} has no operation ${JSON.stringify(op)} across processes`);
        const result = fn(target, args, caller);
        if (result instanceof Promise) result.then((v) => reply(callId, 1, v), (err: unknown) => reply(callId, 0, serializeError(err)));
        else reply(callId, 1, result);
      } catch (err) {
        reply(callId, 0, serializeError(err));
      }
    };
    const target = objectFor(objectId);
    if (target instanceof Promise) void target.then(run);
    else run(target);
  });
}

const server = createServer((socket) => void serve(socket));
server.listen(path, () => parentPort!.postMessage('listening'));
server.on('error', (err) => {
  throw err;
});
