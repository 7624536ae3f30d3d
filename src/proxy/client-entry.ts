/**
 * The helper thread of a process that uses proxies: it holds one authenticated socket
 * per owner and relays frames both ways. It exists so that a `*Sync` call can block
 * its own thread on Atomics.wait while the socket I/O goes on here, and so that what
 * its thread puts into another process's queue leaves in batches, from an outbox.
 */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { connect } from 'node:net';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { AuthenticationError, EOFError } from '../futures/errors.js';
import { serializeError } from '../transport/errors.js';
import { authenticateServer } from './auth.js';
import { FramedSocket } from './frames.js';
import { watchLaneCalls } from './lane-watch.js';
import '../queues/shared-queue.js'; // registers SharedQueue, so an outbox revives here
import type { SharedQueue } from '../queues/shared-queue.js';
import { reviveShared } from '../sync/shared.js';
import {
  ACKS,
  ASYNC,
  callIdOf,
  decodeReply,
  encodeCall,
  encodeReply,
  FAILURES,
  HANDSHAKE_MAX_BYTES,
  HEARTBEAT_MS,
  HELPER_READY,
  isTcp,
  PING_CALL_ID,
  SilenceWatch,
  tcpTarget,
  INFLIGHT,
  PIPELINED,
  SYNC,
  TRACKED,
  type Abandon,
  type Abandoned,
  type HelperRequest,
  type OutboxRegistration,
} from './protocol.js';

const { flag, window, syncPort, asyncPort, failedPort } = workerData as {
  flag: Int32Array;
  window: Int32Array;
  syncPort: MessagePort;
  asyncPort: MessagePort;
  failedPort: MessagePort;
};

// The deadlines of its thread's calls through lanes (lane-watch.ts).
void watchLaneCalls(window);

/** Gives a reply (or the news that an abandoned call is over) to the thread that waits for it. */
function deliver(frame: Uint8Array | Abandoned, mode: number, object: string): void {
  if (mode === PIPELINED || mode === TRACKED) {
    frame = frame as Uint8Array;
    // Only a failure needs telling; it is posted and counted before the batch is, so a
    // thread that sees every batch answered finds every failure already waiting.
    if (frame.length > 4 && decodeReply(frame)[0] === 0) {
      failedPort.postMessage([object, frame]);
      Atomics.add(window, FAILURES, 1);
    }
    Atomics.sub(window, INFLIGHT, 1);
    Atomics.add(window, ACKS, 1);
    Atomics.notify(window, ACKS);
  } else if (mode === SYNC) {
    syncPort.postMessage(frame);
    Atomics.add(flag, 0, 1);
    Atomics.notify(flag, 0);
  } else if (mode === ASYNC) {
    asyncPort.postMessage(frame);
  }
}

/**
 * How long a caller keeps trying to reach a live owner whose broker does not listen yet.
 * A broker thread starts when its process first shares an object, which may be just
 * before the proxy is sent; on a loaded machine (or loading TypeScript through a loader)
 * it has taken over 10 s to listen. A call with a timeout still ends by its own deadline.
 */
const CONNECT_PATIENCE_MS = 30_000;

/** A call sent and not yet answered. */
interface Pending {
  mode: number;
  object: string;
  objectId: number;
  /** Its thread stopped waiting: a reply is not delivered but undone. */
  abandoned?: Abandon['undo'] | null;
}

class OwnerConnection {
  readonly #pid: number;
  readonly #tcp: boolean;
  readonly #maxFrame: number;
  readonly #pending = new Map<number, Pending>();
  /** Batches sent and not yet answered, and who waits for one to be. */
  #batches = 0;
  #onAnswer: Array<() => void> = [];
  #framed: FramedSocket | undefined;
  #queue: Buffer[] = [];
  #dead: Error | undefined;
  #authenticated = false;

  constructor(addr: string, key: Buffer, pid: number, maxFrame: number) {
    this.#pid = pid;
    this.#tcp = isTcp(addr);
    this.#maxFrame = maxFrame;
    this.#connect(addr, key, Date.now());
  }

  /** The owner's pid. */
  get pid(): number {
    return this.#pid;
  }

  /**
   * True once this connection failed before it ever authenticated (it could not reach
   * the owner in time) while the owner lives: nothing was held through it, so later
   * calls may use a new one.
   */
  get replaceable(): boolean {
    return this.#dead !== undefined && !this.#authenticated && this.#ownerAlive();
  }

  /** Ships a batch, once fewer than MAX_BATCHES are unanswered (so a slow owner slows the outbox down). */
  async sendBatch(callId: number, frame: Buffer, object: string, objectId: number): Promise<void> {
    while (this.#batches >= MAX_BATCHES && !this.#dead) await new Promise<void>((resolve) => this.#onAnswer.push(resolve));
    this.#batches++;
    this.send(callId, PIPELINED, frame, object, objectId);
  }

  #answer(reply: Uint8Array, call: Pending): void {
    if (call.mode === PIPELINED) {
      this.#batches--;
      const waiting = this.#onAnswer;
      this.#onAnswer = [];
      for (const w of waiting) w();
    }
    if (call.abandoned === undefined) deliver(reply, call.mode, call.object);
    else if (call.abandoned !== null && reply.length > 4 && !this.#dead) this.#undo(reply, call.abandoned, call.objectId);
  }

  /** A reply came for a call its thread gave up on: what the owner granted goes back. */
  #undo(reply: Uint8Array, undo: NonNullable<Abandon['undo']>, objectId: number): void {
    const [ok, value] = decodeReply(reply);
    if (ok !== 1 || (undo.onlyIfTrue && value !== true)) return;
    this.send(0, 0, encodeCall(0, objectId, undo.op, [value]), '', objectId);
  }

  send(callId: number, mode: number, frame: Buffer, object: string, objectId: number): void {
    const call: Pending = { mode, object, objectId };
    if (this.#dead) return this.#answer(encodeReply(callId, 0, serializeError(this.#dead)), call);
    if (mode !== 0) this.#pending.set(callId, call);
    if (this.#framed) this.#framed.send(frame);
    else this.#queue.push(frame);
  }

  /** Its thread stops waiting for `callId`: unless the reply already went, tell it so, and undo the reply when it comes. */
  abandon(callId: number, undo: Abandon['undo']): void {
    const call = this.#pending.get(callId);
    if (call === undefined || call.abandoned !== undefined) return;
    call.abandoned = undo ?? null;
    deliver({ abandoned: callId }, call.mode, call.object);
  }

  #connect(addr: string, key: Buffer, since: number, attempt = 0): void {
    // An owner gone before its first connection: whatever listens at its address now
    // (a manager restarted there) is another process, whose objects have the same ids.
    if (attempt === 0 && !this.#tcp && !ownerAlive(this.#pid)) {
      return this.#fail(new EOFError(`the process that owns this object (pid ${this.#pid}) has exited`));
    }
    const socket = isTcp(addr) ? connect(tcpTarget(addr)) : connect(addr);
    let connected = false;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) return; // the handshake's own failure handles it
      // The owner's broker may not listen yet, or its backlog be full; retry while the owner lives.
      const early = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EAGAIN';
      if (early && this.#ownerAlive() && Date.now() - since < CONNECT_PATIENCE_MS) {
        setTimeout(() => this.#connect(addr, key, since), 10);
      } else {
        this.#fail(new EOFError(`cannot reach the process that owns this object (pid ${this.#pid}): ${err.message}`));
      }
    });
    socket.once('connect', () => {
      connected = true;
      const framed = new FramedSocket(socket, { maxFrameBytes: HANDSHAKE_MAX_BYTES });
      authenticateServer(framed, key).then(
        () => {
          this.#authenticated = true;
          this.#framed = framed;
          framed.maxFrameBytes = this.#maxFrame;
          if (this.#tcp) this.#heartbeat(framed);
          framed.onFrame((reply) => {
            if (reply.length < 4) return void socket.destroy();
            const callId = callIdOf(reply);
            const call = this.#pending.get(callId);
            this.#pending.delete(callId);
            if (call !== undefined) this.#answer(reply, call);
          });
          socket.on('close', () =>
            this.#fail(new EOFError(`the process that owns this object (pid ${this.#pid}) has exited or closed the connection`)),
          );
          for (const frame of this.#queue) framed.send(frame);
          this.#queue = [];
        },
        (err: unknown) => {
          socket.destroy();
          if (err instanceof AuthenticationError) return this.#fail(err);
          // Closed during the handshake by an owner too busy to finish it in time (or
          // gone). No call has left yet: while the owner lives, try again.
          if (this.#ownerAlive()) {
            setTimeout(() => this.#connect(addr, key, since, attempt + 1), Math.min(1000, 10 * 2 ** attempt));
          } else {
            this.#fail(new EOFError(`the process that owns this object (pid ${this.#pid}) has exited`));
          }
        },
      );
    });
  }

  /** Whether the owner process lives; over TCP nobody can tell by its pid (it may be on another machine), so no. */
  #ownerAlive(): boolean {
    return !this.#tcp && ownerAlive(this.#pid);
  }

  /** Over TCP: pings the owner, and takes a connection silent past SILENCE_LIMIT_MS for dead. */
  #heartbeat(framed: FramedSocket): void {
    const silence = new SilenceWatch(HEARTBEAT_MS);
    framed.socket.on('data', () => silence.heard());
    const beat = setInterval(() => {
      if (silence.silent()) framed.socket.destroy();
      else framed.send(encodeCall(PING_CALL_ID, 0, 'ping', []));
    }, HEARTBEAT_MS);
    beat.unref();
    framed.socket.once('close', () => clearInterval(beat));
  }

  #fail(err: Error): void {
    this.#dead ??= err;
    this.#framed = undefined;
    this.#queue = [];
    const failed = [...this.#pending];
    this.#pending.clear();
    for (const [callId, call] of failed) this.#answer(encodeReply(callId, 0, serializeError(this.#dead)), call);
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
const ownerAt = (addr: string, key: string, pid: number, maxFrame: number): OwnerConnection => {
  let owner = owners.get(addr);
  // Another owner at the same address (a manager restarted there) gets a connection of its own.
  if (owner === undefined || owner.replaceable || owner.pid !== pid) owners.set(addr, (owner = new OwnerConnection(addr, Buffer.from(key, 'hex'), pid, maxFrame)));
  return owner;
};

/** Most batches of one owner in flight; beyond them the outbox fills and its thread waits. */
const MAX_BATCHES = 8;
let nextBatch = 0x80000000;

/** Ships what a thread puts into its outbox for one queue, in order, as long as the helper lives. */
async function ship(reg: OutboxRegistration): Promise<void> {
  const outbox = reviveShared(reg.outbox) as SharedQueue;
  const object = `${reg.addr}#${reg.objectId}`;
  for (;;) {
    // Counted before it is taken: a thread that finds its outbox empty and nothing
    // in flight knows every put has landed.
    Atomics.add(window, INFLIGHT, 1);
    const taken = outbox._takeRecords(reg.batchBytes);
    if (taken === null) {
      Atomics.sub(window, INFLIGHT, 1);
      Atomics.add(window, ACKS, 1);
      Atomics.notify(window, ACKS);
      await outbox._whenNonEmpty();
      continue;
    }
    const callId = nextBatch;
    nextBatch = nextBatch >= 0xfffffff0 ? 0x80000000 : nextBatch + 1;
    const owner = ownerAt(reg.addr, reg.key, reg.pid, reg.maxFrame);
    await owner.sendBatch(callId, encodeCall(callId, reg.objectId, 'putRecords', [taken.bytes]), object, reg.objectId);
  }
}

parentPort!.on('message', (request: HelperRequest | OutboxRegistration | Abandon) => {
  if (!Array.isArray(request)) {
    if ('abandon' in request) owners.get(request.addr)?.abandon(request.abandon, request.undo);
    else void ship(request);
    return;
  }
  const [addr, key, pid, callId, mode, frame, objectId, maxFrame] = request;
  ownerAt(addr, key, pid, maxFrame).send(callId, mode, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), `${addr}#${objectId}`, objectId);
});

// A timed call made while this thread started waited for this: its deadline starts now.
Atomics.store(window, HELPER_READY, 1);
Atomics.notify(window, HELPER_READY);
