import type { Socket } from 'node:net';

/**
 * Length-prefixed frames over a stream socket: 4 bytes (little-endian length), then
 * the bytes. The proxy protocol is frames of v8-serialized values once both sides have
 * authenticated; before that, frames of raw bytes, never deserialized.
 */
export class FramedSocket {
  readonly socket: Socket;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #onFrame: ((frame: Buffer) => void) | undefined;
  #early: Buffer[] = [];

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
  }

  /** Sends one frame (header and body leave as one writev). */
  send(payload: Uint8Array): void {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(payload.length, 0);
    // Uncorked here and now, never on a later tick: a reply sent from a continuation
    // that nothing else follows must still leave, or its caller waits forever.
    this.socket.cork();
    this.socket.write(head);
    this.socket.write(payload);
    this.socket.uncork();
  }

  /** Delivers every frame, in order, to `handler` (frames that came before it wait for it). */
  onFrame(handler: ((frame: Buffer) => void) | undefined): void {
    this.#onFrame = handler;
    if (handler === undefined) return;
    while (this.#early.length > 0 && this.#onFrame === handler) handler(this.#early.shift()!);
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
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#buffered >= 4) {
      let all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      const length = all.readUInt32LE(0);
      if (all.length < 4 + length) {
        this.#chunks = [all];
        return;
      }
      const frame = all.subarray(4, 4 + length);
      all = all.subarray(4 + length);
      this.#chunks = all.length > 0 ? [all] : [];
      this.#buffered = all.length;
      if (this.#onFrame) this.#onFrame(frame);
      else this.#early.push(frame);
    }
  }
}
