// What the examples' tests share: running a program under examples/ as a user would.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** execFile as a promise. */
export const run = promisify(execFile);
/** Files of examples/ the tour leaves out: a module others import, and the README's quick start. */
export const NOT_IN_TOUR = new Set(['tasks.ts', 'quickstart.ts']);
/** The path of a program under examples/. */
export const example = (name: string): string => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));
/** The tour (`npm start`). */
export const tour = fileURLToPath(new URL('../../scripts/tour.mjs', import.meta.url));

/**
 * Runs an example with tsx, as the README says to, and returns what it printed. Its time
 * is bounded by the test file's (120 s) rather than less: at load 30 on two cores the
 * Manager example took over 60 s.
 */
export async function runExample(name: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', example(name), ...args], { timeout: 110_000 });
  return stdout;
}
