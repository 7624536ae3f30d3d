/**
 * Node built-ins that only some paths need, loaded on first use. An ESM import of a
 * built-in loads it (and everything it pulls in) in every thread that loads concur:
 * node:child_process and node:crypto alone cost every worker thread ~1.4 ms at start.
 */
import { createRequire } from 'node:module';

const nodeRequire = createRequire(import.meta.url);

/** node:child_process, loaded when the first process is spawned. */
export const childProcess = (): typeof import('node:child_process') => nodeRequire('node:child_process') as typeof import('node:child_process');
