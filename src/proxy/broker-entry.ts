/**
 * The owner's broker thread: serves the objects its process shared with other
 * processes, over a Unix socket only the owner's user can open, to clients that prove
 * they know the authkey. It runs beside the owner's own threads, so it answers even
 * while the owner's main thread is blocked in `acquireSync`.
 *
 * What a peer can make it hold is bounded. Before it authenticates: one handshake
 * frame of at most HANDSHAKE_MAX_BYTES, and HANDSHAKE_TIMEOUT_MS to finish; at most
 * MAX_HANDSHAKES handshakes run at a time, and the connections after them wait, unread,
 * for a turn (Node cannot stop accepting and leave them in the listen backlog: libuv
 * has no way to pause a listening socket), up to MAX_WAITING of them. After: frames
 * of at most maxFrameBytes.
 */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { createServer, type Socket } from 'node:net';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import '../sync/all-shared.js';
import { kindOf, reviveShared } from '../sync/shared.js';
import { REMOTE_OWNER_BASE } from '../sync/semlock.js';
import { serializeError } from '../transport/errors.js';
import { Deque } from '../util/deque.js';
import { authenticateClient } from './auth.js';
import { callerGone, newCaller } from './callers.js';
import { FramedSocket } from './frames.js';
import { objectFor, serveObject } from './objects.js';
import { compactReplyFrame } from './compact.js';
import { openLaneEnds, type LaneEnds } from './lane-server.js';
import { decodeCall, encodeReply, HANDSHAKE_MAX_BYTES, isTcp, LANE_OBJECT, LANE_OP, PING_CALL_ID, SilenceWatch, SILENCE_LIMIT_MS, tcpAddr, tcpTarget } from './protocol.js';
import { SERVED, UNDO, UNDO_LOST_REPLY } from './served.js';
import { unsendableAnswer } from './unsendable.js';
import { readFrames } from './read-frames.js';

const { path, key, maxFrameBytes } = workerData as { path: string; key: string; maxFrameBytes: number };
const authkey = Buffer.from(key, 'hex');

/** A connection has this long from the start of its handshake to authenticate. */
const HANDSHAKE_TIMEOUT_MS = 5_000;
/** Handshakes in progress at once (a thousand callers may come at once); later connections wait, unread, for a turn. */
const MAX_HANDSHAKES = 1024;
/** Connections waiting for a turn; past it, new ones are closed. */
const MAX_WAITING = 4096;
/** The listen backlog (the kernel caps it at net.core.somaxconn). */
const BACKLOG = 4096;
/** Lanes one connection may open (one per thread of the caller's that calls through it; a thread has one connection). */
const MAX_LANES = 4;

/** What the owner's own threads send here: an object to serve, or a call of theirs (see callInBroker in owner.ts). */
type FromOwner = { id: number; object: object } | { call: { id: number; op: string; args: unknown[] }; port: MessagePort };

parentPort!.on('message', (m: FromOwner) => ('call' in m ? callHere(m.call, m.port) : serveObject(m.id, reviveShared(m.object))));

/**
 * A call from this process (the manager server's main thread telling its root where it
 * listens): no socket, no caller, and no helper thread booted in the caller for one call.
 * Only for operations that count no caller.
 */
function callHere({ id, op, args }: { id: number; op: string; args: unknown[] }, port: MessagePort): void {
  void (async () => {
    const target = await objectFor(id);
    const kind = kindOf(target)!;
    const fn = Object.hasOwn(SERVED[kind] ?? {}, op) ? SERVED[kind]![op] : undefined;
    if (typeof fn !== 'function') throw new TypeError(`a ${kind} has no operation ${JSON.stringify(op)}`);
    return fn(target, args, undefined as never);
  })()
    .then((value) => port.postMessage({ ok: true, value }))
    // A result the structured clone refuses is an error of the call, not of this thread.
    .catch((err: unknown) => port.postMessage({ ok: false, error: serializeError(err) }));
}

/** A connection that has not authenticated yet. */
interface Newcomer {
  readonly socket: Socket;
  started: boolean;
  authenticated: boolean;
  timer: NodeJS.Timeout | undefined;
}

let handshaking = 0;
let waiting = 0;
const waitingTurn = new Deque<Newcomer>();

function admit(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  const c: Newcomer = { socket, started: false, authenticated: false, timer: undefined };
  if (handshaking < MAX_HANDSHAKES) return start(c);
  if (waiting >= MAX_WAITING) {
    socket.destroy();
    return;
  }
  waiting++;
  waitingTurn.push(c);
  socket.once('close', () => {
    if (!c.started) waiting--;
  });
}

function startNext(): void {
  while (handshaking < MAX_HANDSHAKES && waitingTurn.length > 0) {
    const c = waitingTurn.shift()!;
    if (c.socket.destroyed) continue;
    waiting--;
    start(c);
  }
}

function start(c: Newcomer): void {
  handshaking++;
  c.started = true;
  // Checked after this turn's I/O: an answer already waiting in the socket (this thread
  // was slow, not the peer) still counts.
  c.timer = setTimeout(() => setImmediate(() => c.authenticated || c.socket.destroy()), HANDSHAKE_TIMEOUT_MS);
  c.socket.once('close', () => {
    clearTimeout(c.timer);
    if (c.authenticated) return;
    handshaking--;
    startNext();
  });
  const conn = new FramedSocket(c.socket, { maxFrameBytes: HANDSHAKE_MAX_BYTES });
  c.socket.resume();
  authenticateClient(conn, authkey).then(
    () => {
      if (c.socket.destroyed) return;
      c.authenticated = true;
      clearTimeout(c.timer);
      handshaking--;
      startNext();
      conn.maxFrameBytes = maxFrameBytes;
      serve(conn);
    },
    () => c.socket.destroy(),
  );
}

let nextOwner = REMOTE_OWNER_BASE;

/** Where a channel's answers go: `send` writes one frame. */
interface Replies {
  send(frame: Buffer, onLost?: () => void): void;
  /** A lane's: writes a whole frame (its length first) that compactReplyFrame made. */
  sendFramed?(framed: Buffer, onLost?: () => void): void;
}

/** Serves the calls of one authenticated connection (and of the lanes its caller opens). */
function serve(conn: FramedSocket): void {
  const socket = conn.socket;
  const caller = newCaller(nextOwner++);
  const lanes = new Set<LaneEnds>();
  socket.on('close', () => {
    for (const lane of lanes) lane.requests.destroy();
    lanes.clear();
    callerGone(caller);
  });
  const replies: Replies = {
    send: (frame, onLost) => {
      if (caller.alive && !socket.destroyed) conn.send(frame, onLost);
      else onLost?.();
    },
  };
  // Over TCP a peer's machine may vanish without closing the connection: its pings stop.
  const silence = new SilenceWatch(SILENCE_LIMIT_MS / 3);
  if (tcp) {
    const watch = setInterval(() => silence.silent() && socket.destroy(), SILENCE_LIMIT_MS / 3);
    socket.once('close', () => clearInterval(watch));
  }
  /** Opens a lane for this caller (its thread's calls, through FIFOs it made): same machine only. */
  const openLane = (args: unknown[]): boolean => {
    if (tcp) throw new Error('lanes are for callers on the same machine (a Unix socket)');
    if (!Array.isArray(args) || lanes.size >= MAX_LANES) throw new Error(`a connection may open at most ${MAX_LANES} lanes`);
    const lane = openLaneEnds(args[0], args[1], maxFrameBytes, args[2]);
    lanes.add(lane);
    lane.requests.once('close', () => lanes.delete(lane));
    const out = lane.replies;
    const sendFramed = (framed: Buffer, onLost?: () => void): void => {
      if (!caller.alive) return void onLost?.();
      lane.send(framed, onLost);
    };
    const laneReplies: Replies = {
      send: (frame, onLost) => {
        const framed = Buffer.allocUnsafe(4 + frame.length);
        framed.writeUInt32LE(frame.length, 0);
        framed.set(frame, 4);
        sendFramed(framed, onLost);
      },
      sendFramed,
    };
    readFrames(lane, lane.requests, out, (bytes) => handle(bytes, laneReplies));
    return lane.inMemory;
  };
  const fail = (callId: number, err: unknown, to: Replies): void => {
    if (callId !== 0) to.send(encodeReply(callId, 0, serializeError(err)));
  };
  const handle = (bytes: Buffer, to: Replies): void => {
    if (bytes.length < 4) {
      socket.destroy(); // not a call: the peer does not speak this protocol
      return;
    }
    const callId = bytes.readUInt32LE(0);
    silence.heard();
    if (callId === PING_CALL_ID) return to.send(encodeReply(callId, 1, undefined));
    let objectId: number, op: string, args: unknown[];
    try {
      [objectId, op, args] = decodeCall(bytes);
    } catch (err) {
      fail(callId, err, to);
      return;
    }
    if (objectId === LANE_OBJECT && op === LANE_OP) {
      try {
        const inMemory = openLane(args);
        if (callId !== 0) to.send(encodeReply(callId, 1, inMemory));
      } catch (err) {
        fail(callId, err, to);
      }
      return;
    }
    const run = (target: object): void => {
      const kind = kindOf(target)!;
      const undo = (value: unknown): void => {
        try {
          UNDO[kind]?.(target, op, value, caller);
        } catch {
          // nothing left to give back
        }
      };
      const done = (value: unknown): void => {
        if (!caller.alive) return undo(value);
        if (callId === 0) return;
        const lost = UNDO_LOST_REPLY.has(kind) ? () => undo(value) : undefined;
        if (to.sendFramed !== undefined) {
          // A lane's caller reads the compact form too: a primitive answer needs no serializer.
          const framed = compactReplyFrame(callId, 1, value);
          if (framed !== undefined) return to.sendFramed(framed, lost);
        }
        let frame: Buffer;
        try {
          frame = encodeReply(callId, 1, value);
        } catch (err) {
          // An answer that cannot be serialized (a function, a WeakMap…): tell the caller what it held.
          undo(value);
          return fail(callId, unsendableAnswer(op, value, err), to);
        }
        if (frame.length > maxFrameBytes) {
          undo(value);
          const limit = `the frame limit of ${maxFrameBytes} bytes (maxFrameBytes of the owner, pid ${process.pid})`;
          return to.send(encodeReply(callId, 0, serializeError(new RangeError(`the answer to ${op} is ${frame.length} bytes, over ${limit}`))));
        }
        // A reply that cannot be written (the caller died before its close was seen
        // here) gives back what it carried, for the kinds nothing else gives back for.
        to.send(frame, lost);
      };
      try {
        // Object.prototype's names (constructor, __proto__, toString…) are no operations.
        const fn = typeof op === 'string' && !(op in Object.prototype) ? SERVED[kind]?.[op] : undefined;
        if (typeof fn !== 'function') throw new TypeError(`a ${kind} has no operation ${JSON.stringify(op)} across processes`);
        const result = fn(target, args, caller);
        if (result instanceof Promise) result.then(done, (err: unknown) => fail(callId, err, to));
        else done(result);
      } catch (err) {
        fail(callId, err, to);
      }
    };
    const target = objectFor(objectId);
    if (target instanceof Promise) target.then(run, (err: unknown) => fail(callId, err, to));
    else run(target);
  };
  readFrames(conn, socket, socket, (bytes) => handle(bytes, replies));
}

const server = createServer({ pauseOnConnect: true }, admit);
const tcp = isTcp(path);
if (tcp) {
  const { host, port } = tcpTarget(path);
  server.listen({ host, port, backlog: BACKLOG }, () => {
    parentPort!.postMessage({ listening: tcpAddr(host, (server.address() as { port: number }).port) });
  });
} else {
  server.listen({ path, backlog: BACKLOG }, () => parentPort!.postMessage('listening'));
}
server.on('error', (err) => {
  throw err;
});
