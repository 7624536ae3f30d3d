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
import { ASYNC, callIdOf, encodeReply, SYNC, type HelperRequest } from './protocol.js';

const { flag, syncPort, asyncPort } = workerData as { flag: Int32Array; syncPort: MessagePort; asyncPort: MessagePort };

/** Gives a reply to the thread that waits for it. */
function deliver(frame: Uint8Array, mode: number): void {
  if (mode === SYNC) {
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
  readonly #pending = new Map<number, number>();
  #framed: FramedSocket | undefined;
  #queue: Buffer[] = [];
  #dead: Error | undefined;

  constructor(addr: string, key: Buffer, pid: number) {
    this.#pid = pid;
    this.#connect(addr, key, Date.now());
  }

  send(callId: number, mode: number, frame: Buffer): void {
    if (this.#dead) return deliver(encodeReply(callId, 0, serializeError(this.#dead)), mode);
    if (mode !== 0) this.#pending.set(callId, mode);
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
            const mode = this.#pending.get(callId);
            this.#pending.delete(callId);
            if (mode !== undefined) deliver(reply, mode);
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
    for (const [callId, mode] of this.#pending) deliver(encodeReply(callId, 0, serializeError(this.#dead)), mode);
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
  const [addr, key, pid, callId, mode, frame] = request;
  let owner = owners.get(addr);
  if (owner === undefined) owners.set(addr, (owner = new OwnerConnection(addr, Buffer.from(key, 'hex'), pid)));
  owner.send(callId, mode, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
});
