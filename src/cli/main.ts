/** The `concur` command. */
import '../index.js'; // one shared chunk for the whole library: fewer files to load in each worker (see scripts/bundle.mjs)
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MAX_LINE_BYTES } from './input.js';
import { managerCommand } from './manager-command.js';
import { mapCommand, UsageError } from './map-command.js';
import { POOL_KINDS } from './pools.js';
import { statusCommand, workerCommand } from './redis-commands.js';

/** Exit code of a usage error, as the README promises. */
const USAGE = 2;

const int = (name: string, min: number) => (value: string): number => {
  // Number() would take '', ' 1', '1e3' and '0x10'; an option value is plain digits.
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};

// dist/cli/main.js, two levels under the package root
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('concur')
  .description("Python's concurrency toolkit for Node.js, from the shell")
  .version(version)
  .showHelpAfterError()
  // Commander exits 1 on its own errors; they are usage errors here (exit 2), so it throws
  // instead and the catch below decides. Set before .command(): subcommands inherit it.
  .exitOverride();

program
  .command('map')
  .description('run a task over every JSON line of a file (or stdin, or a range), writing JSON lines')
  .argument('<task>', 'the task as <module>#<name>, defined there with defineTasks(import.meta.url, {...})')
  .argument('[inputs]', "a JSON-lines file, one task argument per line; '-' or nothing reads stdin")
  .option('--range <a..b>', 'the integers a to b-1 as inputs, instead of a file (both within the safe integers, |x| < 2^53)')
  .addOption(new Option('--pool <kind>', 'where tasks run').choices(POOL_KINDS).default('process'))
  .option('--workers <n>', 'workers (or concurrency for async); default: one per CPU', int('--workers', 1))
  .option('--chunksize <n>', 'items sent to a worker at a time', int('--chunksize', 1), 256)
  .option('--unordered', 'write results as they finish, not in input order')
  .option('--retries <n>', 'run a failing item again up to n times (a chunk, when its worker crashed or timed out)', int('--retries', 0), 0)
  .option('--timeout <ms>', 'stop a chunk (its worker) that runs longer than ms', int('--timeout', 1))
  .option('--output <file>', 'write the results there instead of stdout')
  .option(
    '--max-line-bytes <n>',
    'a longer input line is a failed item, skipped without being held in memory',
    int('--max-line-bytes', 1),
    DEFAULT_MAX_LINE_BYTES,
  )
  .option('--no-progress', 'plain progress lines even on a terminal')
  .addHelpText(
    'after',
    `
Each output line is {"line": n, "result": ...} or {"line": n, "error": "..."}, n being the
input line. A result JSON cannot write (a BigInt, a cycle, a function) fails its item. A
progress bar with rate and ETA shows on a terminal (stderr) when the results go elsewhere; a summary (items, failures,
throughput, latency p50/p90/p99) ends every run. Ctrl-C stops the run: no more input, the
workers are killed, what finished is written, and the summary counts what did not run.

Exit codes: 0 all items succeeded, 1 an item failed (or the output could not be written),
2 a usage error (a bad flag, an unreadable input, an unwritable output, an unknown task),
130 interrupted by SIGINT (143 by SIGTERM).

Example:
  concur map ./tasks.js#fib inputs.jsonl --pool process --workers 4 --output out.jsonl
  concur map ./tasks.js#fib --range 0..1000000 --pool thread`,
  )
  .action(async (task: string, inputs: string | undefined, options) => {
    const code = await mapCommand(task, inputs, { ...options, progress: options.progress === false ? false : undefined });
    // Stopped by a signal: a coroutine of the async pool may still hold the event loop.
    if (code >= 128) process.exit(code);
    process.exitCode = code;
  });

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

program
  .command('worker')
  .description('serve a Redis queue: run the jobs RedisExecutors submit, through a local pool')
  .requiredOption('--queue <name>', 'the queue to serve')
  .requiredOption('--tasks <module>', 'a task module the jobs may name (repeat for more)', collect)
  .option('--redis <url>', 'the Redis (default: $REDIS_URL, else redis://127.0.0.1:6379)')
  .addOption(new Option('--pool <kind>', 'where jobs run').choices(POOL_KINDS).default('process'))
  .option('--workers <n>', 'jobs run at once (pool workers, or coroutines for async); default: one per CPU (64 for async)', int('--workers', 1))
  .option('--key-file <file>', 'the signing key shared with the executors, as bytes (default: $CONCUR_KEY_FILE, else $CONCUR_KEY)')
  .option('--allow-inline', 'run inline functions sent as source (only with executors you trust)')
  .option('--lock-duration <ms>', "a job's lock; a dead worker's jobs run again elsewhere after about this (default 5000)", int('--lock-duration', 100))
  .option('--stalled-interval <ms>', 'how often to look for jobs whose worker died (default 1000)', int('--stalled-interval', 50))
  .option('--max-stalled <n>', 'times a job may lose its worker before it fails (WorkerCrashedError; default 1)', int('--max-stalled', 0))
  .option('--close-timeout <ms>', 'on SIGTERM, how long running jobs may take to finish (default 30000)', int('--close-timeout', 0))
  .option('--name <name>', 'this worker in job records and errors (default: host:pid)')
  .addHelpText(
    'after',
    `
On SIGTERM or SIGINT the worker stops taking jobs, lets the running ones finish (up to
--close-timeout, default 30 s) and exits 0; jobs still running then are left locked, and
run again elsewhere once their lock expires. A second signal exits at once (128 + its number).

Example:
  CONCUR_KEY=... concur worker --redis redis://127.0.0.1:6379 --queue jobs --tasks ./tasks.js --pool process --workers 4`,
  )
  .action(async (options) => {
    // Closed: what is left (a pool's reaped children, a socket closing) must not hold the exit.
    process.exit(await workerCommand(options));
  });

program
  .command('status')
  .description("a Redis queue's job counts and connected workers")
  .requiredOption('--queue <name>', 'the queue')
  .option('--redis <url>', 'the Redis (default: $REDIS_URL, else redis://127.0.0.1:6379)')
  .option('--json', 'one JSON line')
  .action(async (options) => {
    process.exitCode = await statusCommand(options);
  });

program
  .command('manager')
  .description('serve a Manager in the foreground for other processes and machines, until Ctrl-C or SIGTERM')
  .requiredOption('--address <where>', 'HOST:PORT for TCP (port 0 picks one), or a Unix socket path')
  .requiredOption('--authkey-file <file>', 'the key clients must prove they know (its bytes; a final newline is dropped)')
  .option('--register <module...>', 'modules whose defineTasks tasks become types, each under its task name')
  .option('--call-timeout <ms>', "how long a client's dict, list, namespace or value call waits for its answer (default 30000)", int('--call-timeout', 1))
  .addHelpText(
    'after',
    `
Clients connect with Manager.connect({ address: { host, port }, authkey }) and make
objects with manager.dict(), manager.list(), ... or manager.create(typeid, ...args).

Example:
  concur manager --address 127.0.0.1:50000 --authkey-file ./key --register ./types.js`,
  )
  .action(async (options) => {
    process.exitCode = await managerCommand(options);
  });

/** Resolves once what `stream` buffers is written (or it can take no more). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    stream.once('drain', resolve);
    stream.once('error', resolve);
    stream.once('close', resolve);
  });
}

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`concur: ${err.message}\n`);
    process.exitCode = USAGE;
  } else if (err instanceof CommanderError) {
    // commander has printed what was wrong; --help and --version exit 0 through here too
    process.exitCode = err.exitCode === 0 ? 0 : USAGE;
  } else throw err;
}
// The command is done: a task module it imported (to check it, or to run its tasks on
// the async pool) may still hold the event loop with a timer or a socket of its own,
// which would keep the command alive after its summary. What it printed goes out first.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit();
