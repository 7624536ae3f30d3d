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
export function openLaneEnds(requestPath: unknown, replyPath: unknown): LaneEnds {
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
  const requests = new Socket({ fd: rfd, readable: true, writable: false });
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
  return { requests, replies, send };
}
