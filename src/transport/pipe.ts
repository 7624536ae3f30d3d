import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { EOFError } from '../futures/errors.js';
import { describe } from '../futures/future.js';
import { Deque } from '../util/deque.js';
import { setLongTimeout, type LongTimeout } from '../util/timers.js';
import { reviveShared, sendingData } from '../sync/shared.js';
import { checkSentNested } from './nested.js';

/** How a Connection moves values: a MessagePort in this process, or IPC to the owner of the other end. */
export interface Endpoint {
  post(value: unknown): void;
  close(): void;
  /** Called once with every value that arrives, and `onClose` once the other side is gone. */
  listen(onValue: (value: unknown) => void, onClose: () => void): void;
  /** Stops delivering to the Connection, before the end moves elsewhere. */
  detach(): void;
  /** Keeps the program alive while someone waits to receive (optional). */
  hold?(waiting: boolean): void;
  /** Delivers at once whatever has arrived without an event (optional: a polled lane). */
  drain?(): void;
  /** The MessagePort, when there is one (so the end can move into a thread). */
  readonly port?: MessagePort;
}


/** A value that arrived but could not be revived here (its memory could not be mapped): why. */
class Unrevivable {
  constructor(readonly error: unknown) {}
}

/**
 * One end of a Pipe: multiprocessing.connection.Connection. Values are structured-cloned.
 * `recv()` and `poll()` return Promises; every wait is in milliseconds.
 */
export class Connection<T = unknown> {
  #endpoint: Endpoint;
  /** @internal The other end, while both were made by one Pipe() call in this thread. */
  _peer: Connection<T> | undefined;
  readonly #inbox = new Deque<unknown>();
  readonly #readable: boolean;
  readonly #writable: boolean;
  #waiters: Array<() => void> = [];
  #peerClosed = false;
  #closed = false;
  #moved = false;

  /** @internal Pipe() and the crossing code make Connections. */
  constructor(endpoint: Endpoint, readable: boolean, writable: boolean) {
    this.#endpoint = endpoint;
    this.#readable = readable;
    this.#writable = writable;
    this.#listen();
  }

  #listen(): void {
    this.#endpoint.listen(
      (value) => {
        this.#arrive(value);
        this.#wake();
      },
      () => {
        this.#peerClosed = true;
        this.#wake();
      },
    );
  }

  /**
   * Takes in a value as it lands. A primitive or proxy sent down the pipe comes out with
   * its methods, and a primitive from another process is mapped now, not at recv(): its
   * sender keeps its memory only until it is (shm-crossing.ts), and a program may call
   * recv() late, or never. What cannot be revived is kept for the recv() that takes it.
   */
  #arrive(value: unknown): void {
    let revived: unknown;
    try {
      revived = reviveShared(value);
    } catch (err) {
      revived = new Unrevivable(err);
    }
    this.#inbox.push(revived);
  }

  /**
   * @internal Moves this end onto another transport (its peer went to a child process
   * and now answers over IPC directly). Values already delivered here are kept; values
   * still in the old port are taken first.
   */
  _rebind(endpoint: Endpoint): void {
    const old = this.#endpoint;
    for (let m = old.port ? receiveMessageOnPort(old.port) : undefined; m !== undefined; m = receiveMessageOnPort(old.port!)) {
      this.#arrive(m.message);
    }
    old.detach();
    old.close();
    this.#endpoint = endpoint;
    this.#listen();
    if (this.#waiters.length > 0) endpoint.hold?.(true);
    this.#wake();
  }

  /** True if this end may receive. */
  get readable(): boolean {
    return this.#readable;
  }

  /** True if this end may send. */
  get writable(): boolean {
    return this.#writable;
  }

  /** True once `close()` was called on this end. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a structured-cloneable value to the other end. */
  send(value: T): void {
    this.#checkOpen();
    if (!this.#writable) throw new Error('this end of a one-way Pipe only receives: send() is not allowed');
    if (this.#peerClosed) throw new EOFError('the other end of the Pipe is closed');
    checkSentNested(value);
    this.#endpoint.post(value);
  }

  /** The next value; rejects with EOFError once the other end is closed and nothing is left. */
  async recv(): Promise<T> {
    this.#checkOpen();
    if (!this.#readable) throw new Error('this end of a one-way Pipe only sends: recv() is not allowed');
    if (this.#inbox.length === 0) this.#endpoint.drain?.();
    while (this.#inbox.length === 0) {
      if (this.#peerClosed) throw new EOFError('the other end of the Pipe is closed');
      await new Promise<void>((resolve) => this.#addWaiter(resolve));
      if (this.#closed) throw new Error('the connection was closed while receiving');
    }
    const value = this.#inbox.shift();
    if (value instanceof Unrevivable) throw value.error;
    return value as T;
  }

  /**
   * Whether a value (or the end of the stream) can be received, waiting up to
   * `timeout` ms; 0 (the default) answers at once, null waits until one can.
   */
  async poll(timeout: number | null = 0): Promise<boolean> {
    this.#checkOpen();
    if (!this.#readable) throw new Error('this end of a one-way Pipe only sends: poll() is not allowed');
    if (timeout !== null && !(typeof timeout === 'number' && timeout >= 0)) {
      throw new RangeError(`timeout must be a number of milliseconds >= 0 or null, got ${describe(timeout)}`);
    }
    const ready = (): boolean => this.#inbox.length > 0 || this.#peerClosed;
    if (!ready()) this.#endpoint.drain?.();
    if (ready() || timeout === 0) return ready();
    await new Promise<void>((resolve) => {
      let timer: LongTimeout | undefined;
      const waiter = (): void => {
        timer?.clear();
        resolve();
      };
      this.#addWaiter(waiter);
      if (timeout !== null) {
        timer = setLongTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          if (this.#waiters.length === 0) this.#endpoint.hold?.(false);
          resolve();
        }, timeout);
      }
    });
    return ready();
  }

  /** Closes this end; the other end's `recv()` then rejects with EOFError once drained. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.close();
    this.#wake();
  }

  /**
   * @internal Hands this end's transport over for a move into a thread or process;
   * this object is closed from then on, as the end now lives there.
   */
  moveOut(): Endpoint {
    this.#checkOpen();
    this.#endpoint.detach();
    this.#closed = this.#moved = true;
    return this.#endpoint;
  }

  /** @internal Whether this end can move into a thread: its transport is a port here, not a relay to another process. */
  get _hasPort(): boolean {
    return this.#endpoint.port !== undefined;
  }

  #addWaiter(w: () => void): void {
    this.#waiters.push(w);
    if (this.#waiters.length === 1) this.#endpoint.hold?.(true);
  }

  #wake(): void {
    const ws = this.#waiters;
    if (ws.length === 0) return;
    this.#waiters = [];
    this.#endpoint.hold?.(false);
    for (const w of ws) w();
  }

  /** @internal Throws what any use of a closed or moved end throws. */
  _checkOpen(): void {
    this.#checkOpen();
  }

  #checkOpen(): void {
    if (this.#moved) throw new Error(MOVED);
    if (this.#closed) throw new Error('the connection is closed');
  }

}

// Python's children inherit a descriptor, so a parent and its children may all hold one
// end; here an end is one port or relay, which moves whole.
const ONE_PLACE =
  'an end lives in one place at a time, unlike Python, where children share their parent\'s end. ' +
  'Give each Thread or Process its own Pipe, or let several share a SharedQueue';
const MOVED = `this Pipe end was passed to a Thread, a Process or a pool task and now lives there: ${ONE_PLACE}`;

/**
 * @internal Checks that the Connections among `args` can all move out, before any does:
 * a refused start then leaves every end where it was.
 */
export function checkMovable(args: readonly unknown[], intoThread: boolean): void {
  const seen = new Set<Connection>();
  for (const a of args) {
    if (!(a instanceof Connection)) continue;
    a._checkOpen();
    if (seen.has(a)) throw new Error(`this Pipe end is passed twice in one argument list: ${ONE_PLACE}`);
    if (intoThread && !a._hasPort) throw new TypeError('a Pipe end that lives in another process cannot move into a thread');
    seen.add(a);
  }
}

/** A Connection end over a MessagePort. */
export function portEndpoint(port: MessagePort): Endpoint {
  return {
    port,
    post: (value) => sendingData(value, (v) => port.postMessage(v)),
    close: () => port.close(),
    listen(onValue, onClose) {
      port.on('message', onValue);
      port.once('close', onClose);
      // An idle Pipe must not keep a program alive; a pending recv() does (hold).
      port.unref();
    },
    hold(waiting) {
      if (waiting) port.ref();
      else port.unref();
    },
    detach() {
      port.removeAllListeners('message');
      port.removeAllListeners('close');
    },
  };
}

/**
 * Two connected ends: multiprocessing.Pipe. With `duplex: false` the first end only
 * receives and the second only sends, as in Python. Ends may be passed as arguments
 * to a Thread or a Process and arrive usable there.
 */
export function Pipe<T = unknown>(options: { duplex?: boolean } = {}): [Connection<T>, Connection<T>] {
  const duplex = options.duplex ?? true;
  const { port1, port2 } = new MessageChannel();
  const a = new Connection<T>(portEndpoint(port1), true, duplex);
  const b = new Connection<T>(portEndpoint(port2), duplex, true);
  a._peer = b;
  b._peer = a;
  return [a, b];
}
