import type { ChildProcess } from 'node:child_process';
import { Connection, type Endpoint } from '../transport/pipe.js';
import { isShared } from '../sync/shared.js';
import { registerReviver } from './revive.js';

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
  const out = args.map((a, i) => {
    if (isShared(a)) {
      throw new TypeError(
        `argument ${i} (${(a as object).constructor.name}) cannot be passed to a Process yet: shared primitives cross into threads (Thread, ThreadPoolExecutor); across processes use a Pipe`,
      );
    }
    if (!(a instanceof Connection)) return a;
    const marker: RelayMarker = { $concur: 'connection-ipc', id: nextId++, readable: a.readable, writable: a.writable };
    relays.push({ id: marker.id, endpoint: a.moveOut() });
    return marker;
  });
  return {
    args: out,
    attach(child) {
      for (const { id, endpoint } of relays) {
        endpoint.listen(
          (value) => {
            if (child.connected) child.send({ $concurPipe: id, value } satisfies RelayMessage);
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
    post: (value) => sendToParent({ $concurPipe: id, value }),
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
