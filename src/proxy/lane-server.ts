/**
 * The owner's end of a lane (lane.ts has the caller's): a pair of FIFOs the caller
 * made, through which the calls of one of its threads come and their answers go, in
 * the frames of the proxy protocol. Both ends are libuv pipes on this thread's event
 * loop, so a lane's call is served as a socket's is, between them.
 *
 * The paths come from an authenticated caller over its socket. They are opened only if
 * each is a FIFO this user owns (lstat first, then O_NOFOLLOW and fstat on what was
 * opened), and without blocking: the caller holds its own ends open already.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { isAbsolute } from 'node:path';

/** The owner's ends of a lane: calls come in on `requests`, answers go out on `replies`. */
export interface LaneEnds {
  readonly requests: Socket;
  /** Delivers every call frame, in order, to `handler` (frames before it wait for it). */
  onFrame(handler: (frame: Buffer) => void): void;
  readonly replies: Socket;
  /**
   * Writes one whole frame (its length first) to the caller; `onLost` runs if it cannot
   * be (the caller is gone). While nothing waits in `replies`, the frame goes straight
   * to the FIFO with one write: an answer is small and the caller reads each one before
   * its next call, so the pipe has room and the stream's machinery is not needed.
   */
  send(framed: Buffer, onLost?: () => void): void;
}

function openFifo(path: unknown, flags: number): number {
  if (typeof path !== 'string' || !isAbsolute(path)) throw new TypeError('a lane path must be an absolute path');
  const uid = process.getuid?.();
  const before = lstatSync(path);
  if (!before.isFIFO() || (uid !== undefined && before.uid !== uid)) throw new Error(`${path} is not a FIFO of this user`);
  const fd = openSync(path, flags | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const opened = fstatSync(fd);
    if (!opened.isFIFO() || opened.ino !== before.ino || opened.dev !== before.dev) throw new Error(`${path} changed while it was opened`);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Opens the owner's ends of the lane whose FIFOs are at `requestPath` and `replyPath`.
 * The reply end is write-only, so once the caller's process is gone an answer meets
 * EPIPE (and what it carried is given back, as over a socket).
 */
export function openLaneEnds(requestPath: unknown, replyPath: unknown, maxFrameBytes: number): LaneEnds {
  const rfd = openFifo(requestPath, constants.O_RDONLY);
  let wfd: number;
  try {
    wfd = openFifo(replyPath, constants.O_WRONLY);
  } catch (err) {
    closeSync(rfd);
    throw err;
  }
  // One FIFO for both would feed each answer back in as a call, for ever.
  if (fstatSync(rfd).ino === fstatSync(wfd).ino) {
    closeSync(rfd);
    closeSync(wfd);
    throw new Error('a lane needs two FIFOs, not one');
  }
  const frames = new Frames(maxFrameBytes, () => close());
  // Read straight into one buffer (no stream machinery per read): a call is a few dozen bytes.
  const requests = new Socket({
    fd: rfd,
    readable: true,
    writable: false,
    onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n: number, buffer: Uint8Array) => void frames.push(buffer as Buffer, n) },
  } as ConstructorParameters<typeof Socket>[0]);
  const replies = new Socket({ fd: wfd, readable: false, writable: true });
  const close = (): void => {
    requests.destroy();
    replies.destroy();
  };
  // The caller closed its end (or died): the lane is over; its connection says the rest.
  requests.on('end', close);
  requests.on('close', close);
  requests.on('error', close);
  replies.on('error', close);
  replies.on('close', close);
  const send = (framed: Buffer, onLost?: () => void): void => {
    if (replies.destroyed) return void onLost?.();
    if (replies.writableLength === 0 && !replies.pending) {
      try {
        const n = writeSync(wfd, framed);
        if (n === framed.length) return;
        framed = framed.subarray(n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
          // EPIPE: the caller's process is gone (its connection's close follows).
          close();
          return void onLost?.();
        }
      }
    }
    // The rest (a large answer, a full pipe) goes through the stream, in order.
    replies.write(framed, onLost === undefined ? undefined : (err) => err && onLost());
  };
  return { requests, replies, send, onFrame: (handler) => frames.onFrame(handler) };
}

/** Bytes read from a request FIFO at a time. */
const READ_BUFFER = 64 * 1024;

/**
 * @internal Length-prefixed frames (as frames.ts's) out of the chunks read into a reused buffer:
 * each frame is copied out. A header announcing more than `maxFrameBytes` calls `refuse`.
 */
export class Frames {
  #handler: ((frame: Buffer) => void) | undefined;
  #early: Buffer[] = [];
  /** A frame (or its header) that came in pieces, with how much of it is here. */
  #partial: Buffer | undefined;
  #have = 0;
  #head = Buffer.alloc(4);
  #headHave = 0;

  constructor(
    readonly maxFrameBytes: number,
    readonly refuse: () => void,
  ) {}

  onFrame(handler: (frame: Buffer) => void): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const frame of early) handler(frame);
  }

  push(chunk: Buffer, n: number): void {
    let at = 0;
    while (at < n) {
      if (this.#partial !== undefined) {
        const take = Math.min(n - at, this.#partial.length - this.#have);
        chunk.copy(this.#partial, this.#have, at, at + take);
        this.#have += take;
        at += take;
        if (this.#have < this.#partial.length) return;
        const frame = this.#partial;
        this.#partial = undefined;
        this.#deliver(frame);
        continue;
      }
      let length: number;
      if (this.#headHave > 0 || n - at < 4) {
        const take = Math.min(n - at, 4 - this.#headHave);
        chunk.copy(this.#head, this.#headHave, at, at + take);
        this.#headHave += take;
        at += take;
        if (this.#headHave < 4) return;
        this.#headHave = 0;
        length = this.#head.readUInt32LE(0);
      } else {
        length = chunk.readUInt32LE(at);
        at += 4;
      }
      if (length > this.maxFrameBytes) return this.refuse();
      if (n - at >= length) {
        this.#deliver(Buffer.from(chunk.subarray(at, at + length)));
        at += length;
      } else {
        this.#partial = Buffer.allocUnsafe(length);
        this.#have = 0;
      }
    }
  }

  #deliver(frame: Buffer): void {
    if (this.#handler !== undefined) this.#handler(frame);
    // Before the broker listens (it does at once), a frame waits: at most what one read held.
    else if (this.#early.length < 1024) this.#early.push(frame);
    else this.refuse();
  }
}
