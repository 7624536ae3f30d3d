/** The `concur` command. */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { Command, InvalidArgumentError } from 'commander';
import { mapCommand, UsageError } from './map-command.js';

const int = (name: string, min: number) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};

const program = new Command()
  .name('concur')
  .description("Python's concurrency toolkit for Node.js, from the shell")
  .showHelpAfterError();

program
  .command('map')
  .description('run a task over every JSON line of a file (or stdin, or a range), writing JSON lines')
  .argument('<task>', 'the task as <module>#<name>, defined there with defineTasks(import.meta.url, {...})')
  .argument('[inputs]', "a JSON-lines file, one task argument per line; '-' or nothing reads stdin")
  .option('--range <a..b>', 'the integers a to b-1 as inputs, instead of a file')
  .option('--pool <kind>', 'async, thread or process', 'process')
  .option('--workers <n>', 'workers (or concurrency for async); default: one per CPU', int('--workers', 1))
  .option('--chunksize <n>', 'items sent to a worker at a time', int('--chunksize', 1), 256)
  .option('--unordered', 'write results as they finish, not in input order')
  .option('--retries <n>', 'run a failing item again up to n times', int('--retries', 0), 0)
  .option('--timeout <ms>', 'stop a chunk (its worker) that runs longer than ms', int('--timeout', 1))
  .option('--output <file>', 'write the results there instead of stdout')
  .option('--no-progress', 'plain progress lines even on a terminal')
  .addHelpText(
    'after',
    `
Each output line is {"line": n, "result": ...} or {"line": n, "error": "..."}, n being the
input line. A progress bar with rate and ETA shows on a terminal (stderr); a summary
(items, failures, throughput, latency p50/p90/p99) ends every run. The exit code is 1
when any item failed, 2 for a usage error.

Example:
  concur map ./tasks.js#fib inputs.jsonl --pool process --workers 4 --output out.jsonl
  concur map ./tasks.js#fib --range 0..1000000 --pool thread`,
  )
  .action(async (task: string, inputs: string | undefined, options) => {
    process.exitCode = await mapCommand(task, inputs, { ...options, progress: options.progress === false ? false : undefined });
  });

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`concur: ${err.message}\n`);
    process.exitCode = 2;
  } else throw err;
}
