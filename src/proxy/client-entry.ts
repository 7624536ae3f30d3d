/**
 * The helper thread of a process that uses proxies: it holds one authenticated socket
 * per owner and relays frames both ways. It exists so that a `*Sync` call can block
 * its own thread on Atomics.wait while the socket I/O goes on here.
 */
import { connect } from 'node:net';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { AuthenticationError, EOFError } from '../futures/errors.js';
import { serializeError } from '../transport/errors.js';
import { authenticateServer } from './auth.js';
import { FramedSocket } from './frames.js';
import { ASYNC, callIdOf, decodeReply, encodeReply, PIPELINED, SYNC, WINDOW, type HelperRequest } from './protocol.js';

const { flag, window, syncPort, asyncPort, failedPort } = workerData as {
  flag: Int32Array;
  window: Int32Array;
  syncPort: MessagePort;
  asyncPort: MessagePort;
  failedPort: MessagePort;
};

/** Gives a reply to the thread that waits for it. */
function deliver(frame: Uint8Array, mode: number, object: string): void {
  if (mode === PIPELINED) {
    // Only a failure needs telling; it is posted before the slot is returned, so a
    // thread that sees the window empty finds every failure already waiting.
    if (frame.length > 4 && decodeReply(frame)[0] === 0) failedPort.postMessage([object, frame]);
    // A full window waits until half of it is free (and a settle until all is):
    // waking the caller on every reply would hand it one slot per wake-up.
    const left = Atomics.sub(window, 0, 1) - 1;
    if (left === 0 || left === WINDOW >> 1) Atomics.notify(window, 0);
  } else if (mode === SYNC) {
    syncPort.postMessage(frame);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  } else if (mode === ASYNC) {
    asyncPort.postMessage(frame);
  }
}

const CONNECT_PATIENCE_MS = 10_000;

class OwnerConnection {
  readonly #pid: number;
  readonly #pending = new Map<number, { mode: number; object: string }>();
  #framed: FramedSocket | undefined;
  #queue: Buffer[] = [];
  #dead: Error | undefined;

  constructor(addr: string, key: Buffer, pid: number) {
    this.#pid = pid;
    this.#connect(addr, key, Date.now());
  }

  send(callId: number, mode: number, frame: Buffer, object: string): void {
    if (this.#dead) return deliver(encodeReply(callId, 0, serializeError(this.#dead)), mode, object);
    if (mode !== 0) this.#pending.set(callId, { mode, object });
    if (this.#framed) this.#framed.send(frame);
    else this.#queue.push(frame);
  }

  #connect(addr: string, key: Buffer, since: number): void {
    const socket = connect(addr);
    let ready = false;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (ready) return;
      // The owner's broker may not listen yet; retry while the owner lives.
      const early = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      if (early && ownerAlive(this.#pid) && Date.now() - since < CONNECT_PATIENCE_MS) {
        setTimeout(() => this.#connect(addr, key, since), 10);
      } else {
        this.#fail(new EOFError(`cannot reach the process that owns this object (pid ${this.#pid}): ${err.message}`));
      }
    });
    socket.once('connect', () => {
      const framed = new FramedSocket(socket);
      authenticateServer(framed, key).then(
        () => {
          ready = true;
          this.#framed = framed;
          framed.onFrame((reply) => {
            const callId = callIdOf(reply);
            const call = this.#pending.get(callId);
            this.#pending.delete(callId);
            if (call !== undefined) deliver(reply, call.mode, call.object);
          });
          socket.on('close', () =>
            this.#fail(new EOFError(`the process that owns this object (pid ${this.#pid}) has exited or closed the connection`)),
          );
          for (const frame of this.#queue) framed.send(frame);
          this.#queue = [];
        },
        (err: unknown) => {
          socket.destroy();
          this.#fail(err instanceof AuthenticationError ? err : new AuthenticationError(String(err)));
        },
      );
    });
  }

  #fail(err: Error): void {
    this.#dead ??= err;
    this.#framed = undefined;
    this.#queue = [];
    for (const [callId, { mode, object }] of this.#pending) deliver(encodeReply(callId, 0, serializeError(this.#dead)), mode, object);
    this.#pending.clear();
  }
}

function ownerAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const owners = new Map<string, OwnerConnection>();

parentPort!.on('message', (request: HelperRequest) => {
  const [addr, key, pid, callId, mode, frame, objectId] = request;
  let owner = owners.get(addr);
  if (owner === undefined) owners.set(addr, (owner = new OwnerConnection(addr, Buffer.from(key, 'hex'), pid)));
  owner.send(callId, mode, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), `${addr}#${objectId}`);
});
