import type { ChildProcess } from 'node:child_process';
import { receiveMessageOnPort } from 'node:worker_threads';
import { checkMovable, Connection, type Endpoint } from '../transport/pipe.js';
import { isShared, sendingData } from '../sync/shared.js';
import { registerReviver } from './revive.js';
import { toProxy } from '../proxy/proxies.js';
import { goneCheck } from '../sync/shm-tree.js';
import { createRingFile, openRingFile, RingReader, RingWriter, ringsAvailable } from './file-ring.js';
import { RelayEndpoint, type RelayIO, type RelayMessage, type RelayRings } from './relay-endpoint.js';

/** A Connection relayed to a child process: messages tagged with its id travel over IPC. */
interface RelayMarker {
  $concur: 'connection-ipc';
  id: number;
  readable: boolean;
  writable: boolean;
  /** The shared ring file of a Pipe whose other end stays in the parent. */
  ring?: string;
}

// Lanes of a ring file: 0 carries parent to child, 1 child to parent.
const TO_CHILD = 0;
const TO_PARENT = 1;

let nextId = 1;

/**
 * Prepares a Process's arguments: each Connection stays here, served by this process,
 * and the child gets a marker it turns into a Connection that talks through us over
 * IPC (the owner serves, as with every primitive that crosses into a process).
 * Returns the marked arguments and a function to call with the child once it exists.
 */
export function dehydrate(args: readonly unknown[]): { args: unknown[]; attach(child: ChildProcess): void } {
  const relays: Array<{ id: number; endpoint: Endpoint }> = [];
  const direct: Array<{ id: number; peer: Connection; pending: unknown[]; rings: RelayRings | undefined }> = [];
  checkMovable(args, false);
  const out = args.map((a) => {
    if (isShared(a)) return toProxy(a);
    if (!(a instanceof Connection)) return a;
    const marker: RelayMarker = { $concur: 'connection-ipc', id: nextId++, readable: a.readable, writable: a.writable };
    const peer = a._peer;
    const endpoint = a.moveOut();
    // Both ends going to the child stay a pair through this process (two relays): a
    // direct line would rebind the peer, whose port the second relay needs.
    if (peer !== undefined && !peer.closed && endpoint.port !== undefined && !args.includes(peer)) {
      // The other end is here: it talks to the child itself, over IPC and a shared ring
      // file, with no port in between. What it already sent waits in the moved end's
      // port and goes first.
      const pending: unknown[] = [];
      for (let m = receiveMessageOnPort(endpoint.port); m !== undefined; m = receiveMessageOnPort(endpoint.port)) pending.push(m.message);
      let rings: RelayRings | undefined;
      if (ringsAvailable) {
        try {
          const { path, fd } = createRingFile();
          rings = { fd, path, reader: new RingReader(fd, TO_PARENT), writer: undefined, writerLane: TO_CHILD };
          marker.ring = path;
        } catch {
          rings = undefined; // no room on /dev/shm: IPC alone
        }
      }
      direct.push({ id: marker.id, peer, pending, rings });
      a._peer = peer._peer = undefined;
    } else {
      relays.push({ id: marker.id, endpoint });
    }
    return marker;
  });
  return {
    args: out,
    attach(child) {
      for (const { id, peer, pending, rings } of direct) {
        const relay = new RelayEndpoint(childIO(child, id), id, rings);
        for (const value of pending) relay.post(value);
        peer._rebind(relay);
      }
      // Its start time read now, while it lives: read after its death, a reused pid would pass for it.
      const pidGone = relays.length > 0 ? goneCheck(child.pid!) : () => true;
      const childGone = (): boolean => !child.connected || pidGone();
      for (const { id, endpoint } of relays) {
        let seq = 0;
        endpoint.listen(
          (value) => {
            if (!child.connected) return;
            // Numbered once: a send retried without views must not skip a number (the receiver waits for each in turn).
            const n = ++seq;
            const crossing = isShared(value) ? { receiverGone: childGone, counted: 0 } : undefined;
            sendingData(toProxy(value, true, crossing), (v) => child.send({ $concurPipe: id, seq: n, value: v } satisfies RelayMessage));
          },
          () => {
            if (child.connected) child.send({ $concurPipe: id, seq: ++seq, close: true } satisfies RelayMessage);
          },
        );
        const onMessage = (m: RelayMessage): void => {
          if (m === null || typeof m !== 'object' || m.$concurPipe !== id) return;
          if (m.close) endpoint.close();
          else endpoint.post(m.value);
        };
        child.on('message', onMessage);
        // When the child is gone, so is its end: the other end sees EOF.
        child.once('exit', () => endpoint.close());
      }
    },
  };
}

/** In the parent: the IPC side of a Pipe end whose other end is in `child`. */
function childIO(child: ChildProcess, id: number): RelayIO {
  let onMessage: ((m: RelayMessage) => void) | undefined;
  let onExit: (() => void) | undefined;
  const channel = (): { ref?: () => void; unref?: () => void } | undefined => child.channel as { ref?: () => void; unref?: () => void } | undefined;
  return {
    goneMessage: 'the other end of the Pipe is in a process that has exited',
    peerPid: child.pid!,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    connected: () => child.connected,
    listen(deliver, onGone) {
      onMessage = (m: RelayMessage) => {
        if (m !== null && typeof m === 'object' && m.$concurPipe === id) deliver(m);
      };
      onExit = onGone;
      child.on('message', onMessage);
      child.once('exit', onExit);
    },
    detach() {
      if (onMessage) child.off('message', onMessage);
      if (onExit) child.off('exit', onExit);
    },
    // A recv() waiting on the child keeps the program alive, as it would on a port.
    hold(waiting) {
      if (waiting) channel()?.ref?.();
    },
  };
}

let pendingSends = 0;
let onFlushed: Array<() => void> = [];

/** Resolves once every value sent through a relayed Pipe end has left this process. */
export function pipesFlushed(): Promise<void> {
  if (pendingSends === 0) return Promise.resolve();
  return new Promise((resolve) => onFlushed.push(resolve));
}

function sendToParent(message: RelayMessage): void {
  pendingSends++;
  process.send!(message, undefined, {}, () => {
    if (--pendingSends === 0) {
      const waiting = onFlushed;
      onFlushed = [];
      for (const w of waiting) w();
    }
  });
}

// In a child, relayed Pipe traffic is routed by id. Values can arrive before the
// target's module has loaded and made its Connection, so they wait here until then.
const routes = new Map<number, (m: RelayMessage) => void>();
const early = new Map<number, RelayMessage[]>();
let routing = false;

/** In a child: starts routing relayed Pipe messages; call before the first one can arrive. */
export function routePipeMessages(): void {
  if (routing) return;
  routing = true;
  process.on('message', (m: RelayMessage) => {
    if (m === null || typeof m !== 'object' || typeof m.$concurPipe !== 'number') return;
    const route = routes.get(m.$concurPipe);
    if (route) route(m);
    else {
      let waiting = early.get(m.$concurPipe);
      if (waiting === undefined) early.set(m.$concurPipe, (waiting = []));
      waiting.push(m);
    }
  });
}

/** In a child: the IPC side of a Pipe end whose other end is in the parent. */
function parentIO(id: number): RelayIO {
  let onDisconnect: (() => void) | undefined;
  return {
    goneMessage: 'the other end of the Pipe is in a process that has exited',
    peerPid: process.ppid,
    send: (m) => {
      if (process.connected) sendToParent(m);
    },
    connected: () => process.connected === true,
    listen(deliver, onGone) {
      routes.set(id, deliver);
      for (const m of early.get(id) ?? []) deliver(m);
      early.delete(id);
      onDisconnect = onGone;
      process.once('disconnect', onDisconnect);
    },
    detach() {
      routes.delete(id);
      if (onDisconnect) process.off('disconnect', onDisconnect);
    },
  };
}

/** In a child: the end a marker stands for, with the ring file opened when the parent made one. */
function reviveRelayed(m: RelayMarker): Connection {
  let rings: RelayRings | undefined;
  if (m.ring !== undefined) {
    try {
      const fd = openRingFile(m.ring);
      rings = { fd, reader: new RingReader(fd, TO_CHILD), writer: new RingWriter(fd, TO_PARENT) };
    } catch {
      rings = undefined;
    }
    sendToParent({ $concurPipe: m.id, opened: rings !== undefined });
  }
  return new Connection(new RelayEndpoint(parentIO(m.id), m.id, rings), m.readable, m.writable);
}

registerReviver('connection-ipc', (m) => reviveRelayed(m as unknown as RelayMarker));
