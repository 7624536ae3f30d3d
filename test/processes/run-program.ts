// Runs a fixture program in a process group of its own, with a hard timeout, and
// reports what it printed and which of its descendants outlived it.
import { fileURLToPath } from 'node:url';
import { groupMembers } from '../fixtures/procs.js';
import { startNode } from '../fixtures/run-node.js';
import { own, TSX } from '../fixtures/source.js';

/** How a program run ended. */
export interface ProgramRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** True if it was still running at the timeout (then its whole group was killed). */
  timedOut: boolean;
  /** Processes of its group still running a few seconds after it ended (killed since). */
  leftovers: number[];
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // nobody left
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs test/fixtures/`fixture` (under tsx, or its mirror: see source.ts) with `env` added; kills its whole group at `timeoutMs`. */
export async function runProgram(fixture: string, env: Record<string, string>, timeoutMs: number): Promise<ProgramRun> {
  const path = fileURLToPath(new URL(own(`../fixtures/${fixture}`), import.meta.url));
  const started = startNode([...TSX, path], { env: { ...process.env, ...env }, timeoutMs });
  const pgid = started.pid; // its own group: whatever it starts can be found, and killed
  const { code, signal } = await started.exited;
  // Its children watch it and end with it: give them a moment, bounded, then look.
  const deadline = performance.now() + 5_000;
  let leftovers = groupMembers(pgid);
  while (leftovers.length > 0 && performance.now() < deadline) {
    await sleep(50);
    leftovers = groupMembers(pgid);
  }
  if (leftovers.length > 0) killGroup(pgid);
  // The rest of what was printed, for 2 s at most (the bound's timer cleared after: left
  // running, it held the test file's process open up to 2 s after its last test).
  let bound: NodeJS.Timeout | undefined;
  await Promise.race([started.done, new Promise<void>((resolve) => (bound = setTimeout(resolve, 2_000)))]);
  clearTimeout(bound);
  const { stdout, stderr, timedOut } = started.output();
  return { code, signal, stdout, stderr, timedOut, leftovers };
}

/** A one-paragraph account of a run, for assertion messages. */
export function describeRun(run: ProgramRun): string {
  const tail = (s: string): string => s.slice(-1500);
  return `code ${run.code} signal ${run.signal} timedOut ${run.timedOut} leftovers ${run.leftovers.length}\n--- stdout\n${tail(run.stdout)}\n--- stderr\n${tail(run.stderr)}`;
}
