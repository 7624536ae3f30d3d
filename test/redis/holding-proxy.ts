/**
 * A TCP proxy to Redis that holds data back on one connection, to put a client's
 * messages out of the order they would otherwise come in.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** Which way the held data goes: from the client to Redis, or from Redis to the client. */
export type HoldDirection = 'toRedis' | 'toClient';

/** A running holding proxy. */
export interface HoldingProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Resolves once it holds a chunk that contains the marker. */
  readonly held: Promise<void>;
  /** Lets the held chunks go on, and every later one. */
  release(): void;
  /** Resolves once Redis's side has sent `text` through to a client. */
  passed(text: string): Promise<void>;
  /** Ends every connection through it (the clients reconnect, and pass freely). */
  drop(): void;
  /** Stops it and every connection through it. */
  close(): void;
}

/** What to hold. */
export interface HoldOptions {
  /** Which way. @default 'toRedis' */
  direction?: HoldDirection;
  /** Hold on every connection that carries the marker, not only the first. @default false */
  every?: boolean;
}

/**
 * Proxies to `redis`; on the first connection (or every one) that carries `marker` in
 * `direction`, holds that chunk and every later one going the same way until release().
 * `marker` may be a function, asked for each chunk (undefined: hold nothing yet).
 */
export async function holdingProxy(redis: URL, marker: string | (() => string | undefined), options: HoldOptions = {}): Promise<HoldingProxy> {
  const { direction = 'toRedis', every = false } = options;
  let free = false;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let onHeld!: () => void;
  const held = new Promise<void>((r) => (onHeld = r));
  let seen = '';
  const waiters: Array<{ text: string; done: () => void }> = [];
  const sockets = new Set<Socket>();
  let holding = false;
  const server = createServer((client) => {
    const upstream = connect(Number(redis.port || 6379), redis.hostname);
    sockets.add(client).add(upstream);
    // Without these, Nagle's algorithm can hold a small write back for 40 ms (the
    // abort message behind the announcement's reply).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    let mine = false;
    const queued: Buffer[] = [];
    const [from, to] = direction === 'toRedis' ? [client, upstream] : [upstream, client];
    from.on('data', (chunk: Buffer) => {
      const m = typeof marker === 'string' ? marker : marker();
      if (!free && !mine && (every || !holding) && m !== undefined && chunk.includes(m)) {
        holding = mine = true;
        void released.then(() => {
          for (const c of queued.splice(0)) to.write(c);
          mine = false;
        });
        onHeld();
      }
      if (mine) queued.push(chunk);
      else to.write(chunk);
    });
    const back = direction === 'toRedis' ? upstream : client;
    const ahead = direction === 'toRedis' ? client : upstream;
    back.on('data', (chunk: Buffer) => ahead.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString('latin1')).slice(-65536);
      for (const w of [...waiters]) if (seen.includes(w.text)) (waiters.splice(waiters.indexOf(w), 1), w.done());
    });
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  void released.then(() => (free = true));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    held,
    release,
    passed: (text: string) => new Promise<void>((done) => (seen.includes(text) ? done() : waiters.push({ text, done }))),
    drop: () => {
      release();
      for (const s of sockets) s.destroy();
    },
    close: () => {
      release();
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}
