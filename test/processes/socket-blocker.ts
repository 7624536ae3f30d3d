import { createServer, type Socket } from 'node:net';
import type { Blocker } from '../futures/executor-suite.js';
import { files } from '../fixtures/tasks.js';

/** A Blocker that works across processes: the task holds a TCP connection to this test until released. */
export async function socketBlocker(): Promise<Blocker> {
  const sockets: Socket[] = [];
  let released = false;
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => markStarted());
    socket.on('error', () => {});
    if (released) socket.write('g');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    fn: files.blockOnSocket,
    args: [(server.address() as { port: number }).port],
    started,
    release: () => {
      released = true;
      for (const s of sockets) s.write('g');
      server.close();
      server.unref();
    },
  };
}
