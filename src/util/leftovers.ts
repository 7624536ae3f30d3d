/**
 * Files and directories concur makes carry their owner's pid in their name
 * (`<prefix><pid>-<random>`), so a leftover of a process that died without cleaning
 * up (SIGKILL, a crash, the OOM killer) can be told from one in use: the first concur
 * program to make such an entry in a folder removes those whose owner is gone.
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const swept = new Set<string>();

/** The start of the name of an entry this process owns: `<prefix><pid>-`. */
export function ownedPrefix(prefix: string): string {
  return `${prefix}${process.pid}-`;
}

/** The pid in the name of an entry made with ownedPrefix(prefix), or undefined if `name` is not one. */
export function ownerOf(name: string, prefix: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(\d+)-./.exec(name.slice(prefix.length));
  return m === null ? undefined : Number(m[1]);
}

/** Whether a process with this pid exists (one of another user's counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the entries of `dir` named by ownedPrefix(prefix) whose owner process is
 * gone and that belong to this user; the first call for a folder and prefix does the
 * work, later ones return at once. Returns the names it removed. Never throws: a sweep
 * that cannot read the folder, or loses a race with another sweeper, just does less.
 *
 * A pid can be reused: a leftover whose pid now names another process stays until a
 * later sweep finds that one gone too.
 */
export function sweepDeadOwners(dir: string, prefix: string): string[] {
  const key = `${dir}\0${prefix}`;
  if (swept.has(key)) return [];
  swept.add(key);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = ownerOf(name, prefix);
    if (pid === undefined || pid === process.pid || processAlive(pid)) continue;
    const path = join(dir, name);
    try {
      if (uid !== undefined && lstatSync(path).uid !== uid) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}
