/** Runs test/fixtures/signal-parent.mjs with a TMPDIR of its own and stops it at a chosen moment. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode, type NodeRun } from '../fixtures/run-node.js';

const PARENT = fileURLToPath(new URL('../fixtures/signal-parent.mjs', import.meta.url));

/** The signals concur cleans up after. */
export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The ring files on /dev/shm that carry `pid` as their owner. */
export const ringsOf = (pid: number): string[] => readdirSync('/dev/shm').filter((n) => n.startsWith(`concur-pipe-${pid}-`));

/** How a run ended and what it wrote, for assertion messages. */
export const explain = (run: NodeRun): string => `exit ${run.code} signal ${run.signal}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

/** What a parent left, and what it had made when it said READY. */
export interface ParentOutcome {
  run: NodeRun;
  pid: number;
  /** Entries of its private TMPDIR after it ended. */
  tmpLeft: string[];
  /** Its ring files, and the entries of its TMPDIR, when it was ready. */
  readyRings: number;
  readyTmp: number;
}

/** Runs the parent with `args` (see the fixture); `act` stops it once it says READY. */
export async function withParent(args: string[], act: (pid: number) => void): Promise<ParentOutcome> {
  const tmp = mkdtempSync(join(tmpdir(), 'envs-signal-'));
  try {
    const node = startNode([PARENT, ...args], { env: { ...process.env, TMPDIR: tmp }, timeoutMs: 20_000 });
    const out = await node.waitFor(/^READY \d+ \d+$/m);
    const [, readyRings, readyTmp] = /^READY (\d+) (\d+)$/m.exec(out)!.map(Number) as [number, number, number];
    act(node.pid);
    const run = await node.done;
    return { run, pid: node.pid, tmpLeft: readdirSync(tmp), readyRings, readyTmp };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
