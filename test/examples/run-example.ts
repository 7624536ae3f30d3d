// What the examples' tests share: running a program under examples/ as a user would.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
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
 * Node's arguments to run an example: its JavaScript where scripts/run-tests.mjs has
 * transpiled examples/ beside its mirror of test/ (children that import the example then
 * start without tsx, ~1 CPU-s less each), else the .ts under tsx, as the README says to.
 * The tour's tests (threads.test.ts, redis.test.ts) and redis-crawler.ts's (which names
 * its workers' task module by its .ts path) run under tsx either way.
 */
export function exampleArgs(name: string): string[] {
  const js = fileURLToPath(new URL(`../../examples-js/${name.replace(/\.ts$/, '.js')}`, import.meta.url));
  return existsSync(js) ? ['--enable-source-maps', js] : ['--import', 'tsx', example(name)];
}

/**
 * Runs an example (see exampleArgs) and returns what it printed. Its time is bounded by
 * the test file's (120 s) rather than less: at load 30 on two cores the Manager example
 * took over 60 s under tsx.
 */
export async function runExample(name: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [...exampleArgs(name), ...args], { timeout: 110_000 });
  return stdout;
}
