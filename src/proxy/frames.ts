import type { Socket } from 'node:net';

/** Options of a FramedSocket. */
export interface FrameOptions {
  /** Largest frame accepted from the peer; a header announcing more closes the socket. */
  maxFrameBytes: number;
}

/**
 * Length-prefixed frames over a stream socket: 4 bytes (little-endian length), then
 * the bytes. The proxy protocol is frames of v8-serialized values once both sides have
 * authenticated; before that, frames of raw bytes, never deserialized.
 *
 * What the peer sends is bounded: a header announcing more than `maxFrameBytes` closes
 * the socket before any of the body is kept, and frames nobody has asked for yet may
 * not pile up past one frame's worth. Chunks are kept as they come and each frame is
 * assembled once, so a frame that arrives in many pieces costs time linear in its size.
 */
export class FramedSocket {
  readonly socket: Socket;
  /** Largest frame accepted (raised once the peer has authenticated). */
  maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Body length of the frame being received, or -1 while its header is still to come. */
  #need = -1;
  #onFrame: ((frame: Buffer) => void) | undefined;
  #early: Buffer[] = [];
  #earlyBytes = 0;

  constructor(socket: Socket, options: FrameOptions) {
    this.socket = socket;
    this.maxFrameBytes = options.maxFrameBytes;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
  }

  /**
   * Sends one frame (header and body leave as one writev). `onLost` is called if the
   * frame cannot be written (the peer is gone: EPIPE), so what it carried can be given back.
   */
  send(payload: Uint8Array, onLost?: () => void): void {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(payload.length, 0);
    // Uncorked here and now, never on a later tick: a reply sent from a continuation
    // that nothing else follows must still leave, or its caller waits forever.
    this.socket.cork();
    this.socket.write(head);
    this.socket.write(payload, onLost === undefined ? undefined : (err) => err && onLost());
    this.socket.uncork();
  }

  /** Delivers every frame, in order, to `handler` (frames that came before it wait for it). */
  onFrame(handler: ((frame: Buffer) => void) | undefined): void {
    this.#onFrame = handler;
    if (handler === undefined) return;
    while (this.#early.length > 0 && this.#onFrame === handler) {
      const frame = this.#early.shift()!;
      this.#earlyBytes -= frame.length;
      handler(frame);
    }
  }

  /** The next frame, as a promise (for handshakes). */
  next(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(new Error('the connection closed during the handshake'));
      this.socket.once('close', onClose);
      this.onFrame((frame) => {
        this.socket.off('close', onClose);
        this.onFrame(undefined);
        resolve(frame);
      });
    });
  }

  #receive(chunk: Buffer): void {
    if (this.socket.destroyed) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) return;
        const length = this.#take(4).readUInt32LE(0);
        if (length > this.maxFrameBytes) {
          this.#refuse();
          return;
        }
        this.#need = length;
      }
      if (this.#buffered < this.#need) return;
      const frame = this.#take(this.#need);
      this.#need = -1;
      if (this.#onFrame) this.#onFrame(frame);
      else {
        this.#early.push(frame);
        this.#earlyBytes += frame.length;
        // Nobody reads them: a peer that sends ahead of the protocol is cut off.
        if (this.#earlyBytes > this.maxFrameBytes) {
          this.#refuse();
          return;
        }
      }
      if (this.socket.destroyed) return;
    }
  }

  /** Removes the first `n` buffered bytes (n <= buffered): a view when one chunk holds them, else one copy. */
  #take(n: number): Buffer {
    // An empty frame (a refused handshake's answer) may end the data: no chunk is left to view.
    if (n === 0) return Buffer.alloc(0);
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.#chunks[0]!;
      if (c.length <= left) {
        parts.push(c);
        this.#chunks.shift();
        left -= c.length;
      } else {
        parts.push(c.subarray(0, left));
        this.#chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    return Buffer.concat(parts, n);
  }

  #refuse(): void {
    this.#chunks = [];
    this.#buffered = 0;
    this.#early = [];
    this.#earlyBytes = 0;
    this.socket.destroy();
  }
}
