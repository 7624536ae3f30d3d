// Scenario 6: one thread serves hundreds of concurrent TCP clients (upper-cased echo),
// each client a coroutine in a TaskGroup.
import { createServer, connect, type Socket } from 'node:net';
import { isMain, TaskGroup } from 'concur';

/** Starts the echo server on 127.0.0.1; resolves to its port. */
export async function startEchoServer(port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    // Upper-case ASCII in place, as Python's bytes.upper(): no string, no new buffer.
    socket.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i]!;
        if (c >= 97 && c <= 122) chunk[i] = c - 32;
      }
      socket.write(chunk);
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', 65535, resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One client: `rounds` ping-pongs of a 16-byte message, checking each answer. */
async function client(port: number, id: number, rounds: number, signal: AbortSignal): Promise<number> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  socket.setEncoding('latin1');
  // One reader for the socket's whole life: bytes that arrive between two awaits wait here.
  let buffered = '';
  let want: (() => void) | undefined;
  socket.on('data', (d: string) => {
    buffered += d;
    want?.();
  });
  const closed = new Promise<never>((_, reject) => {
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`client ${id}: connection closed`)));
  });
  closed.catch(() => {});
  await Promise.race([new Promise<void>((resolve) => socket.once('connect', resolve)), closed]);
  const message = `ping ${id}`.padEnd(16, '.'); // 16 bytes
  let done = 0;
  try {
    for (; done < rounds && !signal.aborted; done++) {
      socket.write(message);
      while (buffered.length < 16) await Promise.race([new Promise<void>((resolve) => (want = resolve)), closed]);
      const got = buffered.slice(0, 16);
      buffered = buffered.slice(16);
      if (got !== message.toUpperCase()) throw new Error(`client ${id} got ${JSON.stringify(got)}`);
    }
  } finally {
    socket.destroy();
  }
  return done;
}

if (isMain() && process.argv[2] === '--serve') {
  // Serve only (for bench/echo.mjs): print the port, run until killed.
  const server = await startEchoServer(Number(process.argv[3] ?? 0));
  console.log(server.port);
} else if (isMain()) {
  const clients = Number(process.argv[2] ?? 500);
  const rounds = Number(process.argv[3] ?? 20);
  const server = await startEchoServer();
  const started = performance.now();
  let total = 0;
  await TaskGroup.run(async (tg) => {
    for (let id = 0; id < clients; id++) {
      tg.spawn(async (signal) => {
        const n = await client(server.port, id, rounds, signal);
        total += n;
      });
    }
  });
  const ms = performance.now() - started;
  await server.close();
  console.log(`${clients} concurrent clients, ${total} round trips, all answered in upper case, in ${Math.round(ms)} ms (${Math.round(total / (ms / 1000))}/s) on one thread`);
}
