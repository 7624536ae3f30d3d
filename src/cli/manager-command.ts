/**
 * `concur manager`: serves a Manager in the foreground for other machines (Python's
 * `get_server().serve_forever()`), until SIGINT or SIGTERM. The types of `--register`
 * modules (every task they define with defineTasks, under its name) are registered.
 */
import { ensureTypeScript, isTypeScriptModule } from '../tasks/typescript.js';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Manager, type ManagerAddress } from '../manager/manager.js';
import { taskRefOf } from '../tasks/registry.js';
import { UsageError } from './usage-error.js';

/** Options of `concur manager`, as parsed from the command line. */
export interface ManagerCommandOptions {
  address: string;
  authkeyFile: string;
  register?: string[];
  /** The proxies' callTimeout (ms; ManagerOptions.callTimeout), when given. */
  callTimeout?: number;
}

/**
 * `HOST:PORT` (IPv6 as `[::1]:PORT`) is TCP; anything else is a Unix socket path. A colon
 * without a '/' is a HOST:PORT whose port is wrong (a typo served as a socket file named
 * `localhost:5O000` would leave clients unable to connect and nothing said): a socket
 * path of that kind is written with a '/', as `./a:b`.
 */
export function parseAddress(text: string): ManagerAddress {
  const tcp = /^(\[[^\]]+\]|[^/:[\]]+):(\d+)$/.exec(text);
  if (tcp === null) {
    if (text.includes(':') && !text.includes('/')) {
      throw new UsageError(`--address ${text}: HOST:PORT needs a port from 0 to 65535 (a Unix socket path with a ':' is written with a '/', as ./${text})`);
    }
    return text;
  }
  const host = tcp[1]!.startsWith('[') ? tcp[1]!.slice(1, -1) : tcp[1]!;
  const port = Number(tcp[2]);
  if (port > 65535) throw new UsageError(`--address: port ${port} is over 65535`);
  return { host, port };
}

/** The types a module defines: each function it gave defineTasks, by its task name. */
async function typesOf(path: string): Promise<Array<[string, (...args: any[]) => unknown]>> {
  let module: Record<string, unknown>;
  try {
    const url = pathToFileURL(resolvePath(path)).href;
    // This command runs as compiled JavaScript: a .ts module needs tsx here (see ensureTypeScript).
    if (isTypeScriptModule(url)) await ensureTypeScript(url);
    module = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot load --register module ${path}: ${(err as Error).message}`);
  }
  const types: Array<[string, (...args: any[]) => unknown]> = [];
  for (const exported of Object.values(module)) {
    if (exported === null || typeof exported !== 'object') continue;
    for (const fn of Object.values(exported)) {
      const ref = typeof fn === 'function' ? taskRefOf(fn) : undefined;
      if (ref !== undefined) types.push([ref.name, fn as (...args: any[]) => unknown]);
    }
  }
  if (types.length === 0) throw new UsageError(`--register module ${path} defines no tasks: define each type's factory with defineTasks(import.meta.url, { ... })`);
  return types;
}

/** Serves until SIGINT or SIGTERM; resolves with the exit code. */
export async function managerCommand(options: ManagerCommandOptions): Promise<number> {
  const address = parseAddress(options.address);
  let authkey: Buffer;
  try {
    authkey = readFileSync(options.authkeyFile);
  } catch (err) {
    throw new UsageError(`cannot read --authkey-file ${options.authkeyFile}: ${(err as Error).message}`);
  }
  // A key file written with `echo` ends in a newline that the other side's file has too; it is part of neither key.
  authkey = authkey.subarray(0, authkey.length - (authkey.at(-1) === 0x0a ? 1 : 0));
  if (authkey.length === 0) throw new UsageError(`--authkey-file ${options.authkeyFile} is empty`);
  const types = (await Promise.all((options.register ?? []).map(typesOf))).flat();
  let manager: Manager;
  try {
    manager = await Manager.start({ address, authkey, callTimeout: options.callTimeout });
  } catch (err) {
    throw new UsageError(`cannot start a manager at ${options.address}: ${(err as Error).message}`);
  }
  for (const [typeid, factory] of types) manager.register(typeid, factory);
  const where = typeof manager.address === 'string' ? manager.address : `${manager.address.host}:${manager.address.port}`;
  const typeList = types.length > 0 ? `; types: ${types.map(([t]) => t).join(', ')}` : '';
  // The handlers go in before the line that says it listens: a supervisor may signal it as
  // soon as it reads that line, and a signal with no handler yet would kill it outright.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  // The server is a daemon child and signal handlers hold nothing: this keeps the command running.
  const serving = setInterval(() => {}, 1 << 30);
  process.stdout.write(`concur manager listening at ${where} (server pid ${manager.pid})${typeList}\n`);
  const signal = await stopped;
  clearInterval(serving);
  await manager.shutdown();
  process.stdout.write(`concur manager: ${signal}, shut down\n`);
  return 0;
}
