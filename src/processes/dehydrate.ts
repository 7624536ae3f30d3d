import type { ChildProcess } from 'node:child_process';
import { receiveMessageOnPort } from 'node:worker_threads';
import { EOFError } from '../futures/errors.js';
import { Connection, type Endpoint } from '../transport/pipe.js';
import { isShared } from '../sync/shared.js';
import { registerReviver } from './revive.js';
import { toProxy } from '../proxy/proxies.js';

/** A Connection relayed to a child process: messages tagged with its id travel over IPC. */
interface RelayMarker {
  $concur: 'connection-ipc';
  id: number;
  readable: boolean;
  writable: boolean;
}

interface RelayMessage {
  $concurPipe: number;
  value?: unknown;
  close?: true;
}

let nextId = 1;

/**
 * Prepares a Process's arguments: each Connection stays here, served by this process,
 * and the child gets a marker it turns into a Connection that talks through us over
 * IPC (the owner serves, as with every primitive that crosses into a process).
 * Returns the marked arguments and a function to call with the child once it exists.
 */
export function dehydrate(args: readonly unknown[]): { args: unknown[]; attach(child: ChildProcess): void } {
  const relays: Array<{ id: number; endpoint: Endpoint }> = [];
  const direct: Array<{ id: number; peer: Connection; pending: unknown[] }> = [];
  const out = args.map((a) => {
    if (isShared(a)) return toProxy(a);
    if (!(a instanceof Connection)) return a;
    const marker: RelayMarker = { $concur: 'connection-ipc', id: nextId++, readable: a.readable, writable: a.writable };
    const peer = a._peer;
    const endpoint = a.moveOut();
    if (peer !== undefined && !peer.closed && endpoint.port !== undefined) {
      // The other end is here: it talks to the child over IPC itself, with no port in
      // between. What it already sent waits in the moved end's port and goes first.
      const pending: unknown[] = [];
      for (let m = receiveMessageOnPort(endpoint.port); m !== undefined; m = receiveMessageOnPort(endpoint.port)) pending.push(m.message);
      direct.push({ id: marker.id, peer, pending });
      a._peer = peer._peer = undefined;
    } else {
      relays.push({ id: marker.id, endpoint });
    }
    return marker;
  });
  return {
    args: out,
    attach(child) {
      for (const { id, peer, pending } of direct) {
        for (const value of pending) child.send({ $concurPipe: id, value } satisfies RelayMessage);
        peer._rebind(childEndpoint(child, id));
      }
      for (const { id, endpoint } of relays) {
        endpoint.listen(
          (value) => {
            if (child.connected) child.send({ $concurPipe: id, value: toProxy(value) } satisfies RelayMessage);
          },
          () => {
            if (child.connected) child.send({ $concurPipe: id, close: true } satisfies RelayMessage);
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

/** In the parent: a Connection end that talks to one child's end over its IPC channel. */
function childEndpoint(child: ChildProcess, id: number): Endpoint {
  let onMessage: ((m: RelayMessage) => void) | undefined;
  let onExit: (() => void) | undefined;
  const channel = (): { ref?: () => void; unref?: () => void } | undefined => child.channel as { ref?: () => void; unref?: () => void } | undefined;
  return {
    post: (value) => {
      if (!child.connected) throw new EOFError('the other end of the Pipe is in a process that has exited');
      child.send({ $concurPipe: id, value: toProxy(value) } satisfies RelayMessage);
    },
    close: () => {
      if (child.connected) child.send({ $concurPipe: id, close: true } satisfies RelayMessage);
      if (onMessage) child.off('message', onMessage);
    },
    listen(onValue, onClose) {
      onMessage = (m: RelayMessage) => {
        if (m === null || typeof m !== 'object' || m.$concurPipe !== id) return;
        if (m.close) onClose();
        else onValue(m.value);
      };
      onExit = onClose;
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

/** In a child: a Connection end whose traffic goes to the parent over IPC. */
function ipcEndpoint(id: number): Endpoint {
  return {
    post: (value) => sendToParent({ $concurPipe: id, value: toProxy(value) }),
    close: () => {
      if (process.connected) sendToParent({ $concurPipe: id, close: true });
      routes.delete(id);
    },
    listen(onValue, onClose) {
      const route = (m: RelayMessage): void => {
        if (m.close) onClose();
        else onValue(m.value);
      };
      routes.set(id, route);
      for (const m of early.get(id) ?? []) route(m);
      early.delete(id);
      process.once('disconnect', onClose);
    },
    detach() {
      routes.delete(id);
    },
  };
}

registerReviver('connection-ipc', (m) => new Connection(ipcEndpoint(m.id as number), m.readable as boolean, m.writable as boolean));
