/**
 * Node built-ins that only some paths need, loaded on first use. An ESM import of a
 * built-in loads it (and everything it pulls in) in every thread that loads concur:
 * node:child_process and node:crypto alone cost every worker thread ~1.4 ms at start, and
 * node:net, node:crypto and node:child_process together ~20 ms of a fresh process.
 */
import { createRequire } from 'node:module';

const nodeRequire = createRequire(import.meta.url);

/** node:child_process, loaded when the first process is spawned (or a lane's FIFOs are made). */
export const childProcess = (): typeof import('node:child_process') => nodeRequire('node:child_process') as typeof import('node:child_process');

/** node:crypto, loaded by the first handshake, authkey or token. */
export const crypto = (): typeof import('node:crypto') => nodeRequire('node:crypto') as typeof import('node:crypto');

/** node:net, loaded by the first manager connection made from this thread's own code. */
export const net = (): typeof import('node:net') => nodeRequire('node:net') as typeof import('node:net');
