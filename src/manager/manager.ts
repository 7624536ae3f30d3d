/**
 * Manager: multiprocessing.managers, on concur's proxy mechanism. `Manager.start()`
 * runs a server process (server.ts) whose broker serves the manager's objects
 * (served.ts); `Manager.connect()` reaches one from any process that knows its address
 * and authkey. Every method here is one synchronous round trip to the server.
 */
import { lstatSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { crypto, net } from '../util/lazy-builtin.js';
import { isAbsolute, resolve } from 'node:path';
import { AuthenticationError } from '../futures/errors.js';
import { describe } from '../futures/future.js';
import { authenticateServer, isProtocolVersionError } from '../proxy/auth.js';
import { landed } from '../proxy/client.js';
import { FramedSocket } from '../proxy/frames.js';
import { SOCKET_PATH_MAX } from '../proxy/owner.js';
import { callIdOf, decodeReply, encodeCall, HANDSHAKE_MAX_BYTES, isTcp, tcpAddr, tcpTarget } from '../proxy/protocol.js';
import { Process } from '../processes/process.js';
import type { SharedQueue } from '../queues/shared-queue.js';
import type { Barrier } from '../sync/barrier.js';
import type { Condition } from '../sync/condition.js';
import type { Event } from '../sync/event.js';
import type { BoundedSemaphore, Lock, RLock, Semaphore } from '../sync/semlock.js';
import { specOf } from '../tasks/describe.js';
import { deserializeError, type SerializedError } from '../transport/errors.js';
import { Pipe } from '../transport/pipe.js';
import { aliasAddress, callManaged } from './managed-calls.js';
import type { DictProxy, ListProxy, NamespaceProxy, ObjectProxy, ValueProxy } from './proxies.js';
import { DEFAULT_CALL_TIMEOUT_MS, itemsOf, MANAGER_PROTOCOL, ROOT_ID, whereOf, type ManagedRef } from './refs.js';
import type { ServerInfo } from './served.js';
import { serverTasks, type ServerConfig, type ServerReport } from './server.js';
import { nestedAlone } from '../transport/nested.js';

/** Options of `Manager.start`. */
export interface ManagerOptions {
  /**
   * Where to listen: a Unix socket path, or `{ host, port }` for TCP (port 0 picks one;
   * TCP needs an explicit authkey). By default a socket in a fresh directory only this
   * user can enter.
   */
  address?: ManagerAddress;
  /** The key every connection must prove it knows; by default this process's authkey (random, inherited by its children). */
  authkey?: string | Uint8Array;
  /** Runs in the server before it serves (a defineTasks task or a self-contained function). */
  initializer?: (...args: any[]) => unknown;
  /** The initializer's arguments. */
  initargs?: unknown[];
  /**
   * How long a container call (a dict's, list's, namespace's or value's method, and the
   * manager's own dict(), list(), ...) waits for the server's answer before it throws a
   * TimeoutError, in ms; `Infinity` waits for ever. Every proxy the server hands out
   * carries it, into whatever process it goes. Default 30,000.
   */
  callTimeout?: number;
}

/** Options of `Manager.connect`. */
export interface ConnectOptions {
  /** Where the manager listens (its `address`). */
  address: ManagerAddress;
  /** The manager's authkey; by default this process's (which a child inherits from its parent). */
  authkey?: string | Uint8Array;
  /** `callTimeout` (see ManagerOptions) of the proxies reached through this handle; by default the server's. */
  callTimeout?: number;
}

/** Options of a managed queue. */
export interface ManagedQueueOptions {
  /** At most this many items (0: no limit but the ring's bytes). */
  maxsize?: number;
  /** The bytes of the server's ring, which the items held must fit (default 1 MiB, at most 1 GiB). */
  capacityBytes?: number;
}

/** Options of `Manager.register`. */
export interface RegisterOptions {
  /** The methods proxies may call; by default every public method (not starting with `_`). */
  exposed?: string[];
}

function keyOf(authkey: unknown): string {
  if (typeof authkey === 'string' && authkey.length > 0) return Buffer.from(authkey, 'utf8').toString('hex');
  if (authkey instanceof Uint8Array && authkey.length > 0) return Buffer.from(authkey).toString('hex');
  throw new TypeError(`authkey must be a non-empty string or Uint8Array, got ${describe(authkey)}`);
}

/** Where a manager listens: a Unix socket path, or a TCP host and port. */
export type ManagerAddress = string | { host: string; port: number };

/** The broker address (a socket path or `tcp://host:port`) of a manager address. */
function brokerAddr(address: unknown): string {
  if (address !== null && typeof address === 'object') {
    const { host, port } = address as { host?: unknown; port?: unknown };
    if (typeof host !== 'string' || host === '') throw new TypeError(`address.host must be a non-empty string, got ${describe(host)}`);
    if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) throw new RangeError(`address.port must be an integer from 0 to 65535, got ${describe(port)}`);
    return tcpAddr(host, port as number);
  }
  if (typeof address !== 'string' || address === '') throw new TypeError(`address must be a Unix socket path or { host, port }, got ${describe(address)}`);
  const path = isAbsolute(address) ? address : resolve(address);
  const bytes = Buffer.byteLength(path);
  if (bytes > SOCKET_PATH_MAX) throw new RangeError(`the socket path ${path} is ${bytes} bytes, over the Unix limit of ${SOCKET_PATH_MAX}`);
  return path;
}

/** A callTimeout option, checked: a positive number of ms, Infinity, or undefined. */
function callTimeoutOf(ms: unknown, what: string): number | undefined {
  if (ms === undefined || ms === Infinity) return ms;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || !(ms > 0)) throw new RangeError(`${what}: callTimeout must be a number of milliseconds > 0 or Infinity, got ${describe(ms)}`);
  return ms;
}

const checkOptions = (options: object, known: string[], what: string): void => {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what} expects an options object, got ${describe(options)}`);
  for (const k of Object.keys(options)) if (!known.includes(k)) throw new TypeError(`${what}: unknown option ${JSON.stringify(k)} (known: ${known.join(', ')})`);
};

/**
 * Makes way for a server at socket `path`: refused if something listens there or the
 * path is not a socket; a socket nobody listens on (left by a server that was killed)
 * is removed, so a manager restarts at its address.
 */
async function clearSocketPath(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!stat.isSocket()) throw new Error(`cannot listen at ${path}: something that is not a socket is there`);
  const listening = await new Promise<boolean>((resolve) => {
    const probe = net().connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (listening) throw new Error(`cannot listen at ${path}: the address is already in use`);
  rmSync(path, { force: true });
}

/** Where a process's authkey travels to its children (spawned with this process's environment). */
const AUTHKEY_ENV = 'CONCUR_AUTHKEY';

/**
 * This process's authkey (hex), as Python's `current_process().authkey`: made at random
 * on first use, or inherited from the parent, whose environment carried it.
 */
function processAuthkey(): string {
  const inherited = process.env[AUTHKEY_ENV];
  if (inherited !== undefined && /^[0-9a-f]{64}$/.test(inherited)) return inherited;
  return (process.env[AUTHKEY_ENV] = crypto().randomBytes(32).toString('hex'));
}

/** How long shutdown() lets this thread's puts sent ahead land, and then the server exit, before it kills it. */
const SHUTDOWN_GRACE_MS = 5_000;

/** How long a connecting client waits for the whole handshake: reaching the server, proving the key, its hello. */
const HELLO_TIMEOUT_MS = 10_000;

/** Asks the manager at `path` who it is, proving the key both ways first; within HELLO_TIMEOUT_MS in all. */
async function hello(addr: string, key: string): Promise<ServerInfo> {
  const path = whereOf(addr);
  const socket = isTcp(addr) ? net().connect(tcpTarget(addr)) : net().connect(addr);
  // What the server has yet to do, for the error if it never does (a peer that accepts and never speaks).
  const waiting = { on: 'accept the connection' };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the server at ${path} did not ${waiting.on} within ${HELLO_TIMEOUT_MS} ms: is it a manager?`)), HELLO_TIMEOUT_MS);
  });
  const handshake = shakeHands(socket, path, key, waiting);
  handshake.catch(() => {}); // lost the race: it fails as the socket is destroyed
  try {
    return await Promise.race([handshake, deadline]);
  } catch (err) {
    if (isProtocolVersionError(err)) throw err;
    if (err instanceof AuthenticationError) throw new AuthenticationError(`the manager at ${path} refused the authkey`, { cause: err });
    if (err instanceof Error && err.message === 'the connection closed during the handshake') {
      throw new Error(`cannot reach a manager at ${path}: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/** hello's steps, each naming in `waiting` what the server is to do next. */
async function shakeHands(socket: Socket, path: string, key: string, waiting: { on: string }): Promise<ServerInfo> {
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (err) => reject(new Error(`cannot reach a manager at ${path}: ${err.message}`, { cause: err })));
  });
  socket.on('error', () => {});
  const framed = new FramedSocket(socket, { maxFrameBytes: HANDSHAKE_MAX_BYTES });
  waiting.on = 'answer the authentication handshake (it accepted the connection)';
  await authenticateServer(framed, Buffer.from(key, 'hex'), `the manager at ${path}`);
  framed.maxFrameBytes = 1 << 20;
  framed.send(encodeCall(1, ROOT_ID, 'hello', []));
  // Another kind of concur server may never answer for an object it does not have.
  waiting.on = "answer a manager's hello";
  const frame = await framed.next();
  if (frame.length < 4 || callIdOf(frame) !== 1) throw new Error(`the server at ${path} does not speak the manager protocol`);
  const [ok, value] = decodeReply(frame);
  if (!ok) throw new Error(`the server at ${path} is not a manager: ${(deserializeError(value as SerializedError) as Error).message}`);
  const info = value as ServerInfo;
  if (info?.version !== MANAGER_PROTOCOL) {
    throw new Error(`the manager at ${path} speaks protocol version ${describe(info?.version)}; this concur speaks ${MANAGER_PROTOCOL}`);
  }
  return info;
}

/**
 * A server process that owns objects (dicts, lists, namespaces, values, queues, locks,
 * and types you register) for other processes, threads and machines: Python's
 * multiprocessing Manager. Its proxies cross into any process or thread as arguments.
 */
/** Passed by Manager.start and Manager.connect: `new Manager()` from a user is refused. */
const MADE = Symbol('Manager.made');

export class Manager implements AsyncDisposable {
  /** Where the manager listens (a socket path, or `{ host, port }` on TCP): pass it, with the authkey, to `Manager.connect`. */
  readonly address: ManagerAddress;
  /** The server's pid. */
  readonly pid: number;
  readonly #root: ManagedRef;
  readonly #server: { process: Process<any>; pipe: ReturnType<typeof Pipe>[0] } | undefined;
  #closed: string | undefined;
  /** The running shutdown: a second call waits for it too. */
  #stopping: Promise<void> | undefined;

  private constructor(root: ManagedRef, server: { process: Process<any>; pipe: ReturnType<typeof Pipe>[0] } | undefined, made?: typeof MADE) {
    // Python's `Manager()` then `start()` ported as it reads: JavaScript lets `new` through.
    if (made !== MADE) throw new TypeError('a Manager is made by `await Manager.start()` (Python\'s Manager() and start() in one, with its options), or joined by `await Manager.connect({ address, authkey })`; `new Manager()` is not how');
    this.address = isTcp(root.addr) ? tcpTarget(root.addr) : root.addr;
    this.pid = root.pid;
    this.#root = root;
    this.#server = server;
  }

  /** Starts a manager's server process and returns once it listens. */
  static async start(options: ManagerOptions = {}): Promise<Manager> {
    checkOptions(options, ['address', 'authkey', 'initializer', 'initargs', 'callTimeout'], 'Manager.start');
    const callTimeout = callTimeoutOf(options.callTimeout, 'Manager.start') ?? DEFAULT_CALL_TIMEOUT_MS;
    if (options.address !== null && typeof options.address === 'object' && options.authkey === undefined) {
      throw new TypeError('a manager on TCP needs an explicit authkey: anyone who can reach the port may try to connect');
    }
    if (options.initializer !== undefined && typeof options.initializer !== 'function') {
      throw new TypeError(`initializer must be a function, got ${describe(options.initializer)}`);
    }
    const config: ServerConfig = {
      path: options.address === undefined ? undefined : brokerAddr(options.address),
      key: options.authkey === undefined ? processAuthkey() : keyOf(options.authkey),
      initializer: options.initializer === undefined ? undefined : specOf(options.initializer),
      initargs: options.initargs ?? [],
      callTimeout,
    };
    if (!Array.isArray(config.initargs)) throw new TypeError(`initargs must be an array, got ${describe(config.initargs)}`);
    // They travel inside the server's own start arguments, where a shared object would be
    // refused in terms of those: say it in the caller's.
    const shared = nestedAlone(config.initargs);
    if (shared !== undefined) {
      throw new TypeError(
        `Manager.start: initargs${shared.path} (${shared.what}) cannot go to the manager's server process: initargs carry data only. ` +
          'Make shared objects with the manager itself (manager.lock(), manager.value(), manager.dict(), ...) once it has started',
      );
    }
    if (config.path !== undefined && !isTcp(config.path)) await clearSocketPath(config.path);
    const [here, there] = Pipe<unknown>();
    const server = new Process({ target: serverTasks.concurManagerServer, args: [there, config], daemon: true, name: 'concur manager' });
    server.start();
    let report: ServerReport;
    try {
      report = (await here.recv()) as ServerReport;
    } catch {
      await server.join();
      throw new Error(`the manager's server process exited (exit code ${server.exitCode}) before it listened`);
    }
    // Waiting on the Pipe held the child's IPC channel; a join that returns at once lets
    // the daemon go again, so a program that never shuts its manager down still ends.
    await server.join(0);
    if (!report.ok) {
      here.close();
      await server.join();
      throw deserializeError(report.error);
    }
    const root: ManagedRef = { addr: report.addr, key: config.key, pid: report.pid, id: ROOT_ID, maxFrame: report.maxFrame, mgr: report.token, root: ROOT_ID, where: report.addr, callTimeout };
    return new Manager(root, { process: server, pipe: here }, MADE);
  }

  /** Connects to a running manager (started by another process) at `address`; a wrong authkey is an AuthenticationError. */
  static async connect(options: ConnectOptions): Promise<Manager> {
    checkOptions(options, ['address', 'authkey', 'callTimeout'], 'Manager.connect');
    const callTimeout = callTimeoutOf(options.callTimeout, 'Manager.connect');
    const addr = brokerAddr(options.address);
    const key = options.authkey === undefined ? processAuthkey() : keyOf(options.authkey);
    const info = await hello(addr, key);
    aliasAddress(info.addr, addr);
    // Proxies that come through a call carry its proxy's callTimeout (proxies.ts): this handle's, from its root on.
    const root: ManagedRef = { addr, key, pid: info.pid, id: ROOT_ID, maxFrame: info.maxFrame, mgr: info.token, root: ROOT_ID, where: whereOf(addr), callTimeout: callTimeout ?? info.callTimeout };
    return new Manager(root, undefined, MADE);
  }

  /** A new object of type `typeid`; `timed`: the call has the callTimeout (a built-in type's making never waits). */
  #create<T>(typeid: string, args: unknown[], timed = true): T {
    if (this.#closed !== undefined) throw new Error(`this manager (${this.#root.where}) ${this.#closed}`);
    return callManaged(this.#root, 'create', [typeid, args], timed) as T;
  }

  /** A Map in the server. */
  dict<V = unknown, K = string>(init?: Record<string, V> | Map<K, V> | Iterable<readonly [K, V]>): DictProxy<V, K> {
    if (init !== undefined && (init === null || typeof init !== 'object')) {
      throw new TypeError(`dict() takes a plain object, a Map or an iterable of [key, value] pairs, got ${describe(init)}`);
    }
    const entries = init === undefined || init instanceof Map || !(Symbol.iterator in Object(init)) ? init : [...(init as Iterable<readonly [K, V]>)];
    return this.#create('dict', [entries]);
  }
  /** An array in the server. */
  list<T = unknown>(init?: Iterable<T>): ListProxy<T> {
    return this.#create('list', [init === undefined ? undefined : itemsOf(init, 'list()')]);
  }
  /** An object of named values in the server: `ns.x` reads it, `ns.x = 1` writes it, `delete ns.x` and `'x' in ns` ask it. */
  namespace<T extends object = Record<string, unknown>>(init?: T): NamespaceProxy<T> {
    return this.#create('namespace', [init]);
  }
  /**
   * One value in the server, as `.value`. `value(typecode, init)` is Python's
   * `manager.Value('i', 0)`: the typecode is taken and, as there, not enforced.
   */
  value<T>(init: T): ValueProxy<T>;
  value<T>(typecode: string, init: T): ValueProxy<T>;
  value(...args: unknown[]): ValueProxy<unknown> {
    if (args.length >= 2 && typeof args[0] !== 'string') {
      throw new TypeError(`value(typecode, init) takes a typecode string first (as Python's manager.Value('i', 0)), got ${describe(args[0])}`);
    }
    return this.#create('value', [args.length >= 2 ? args[1] : args[0]]);
  }
  /** A queue in the server (with taskDone/join); `capacityBytes` (default 1 MiB) is its ring's size, which an item must fit. */
  queue<T = unknown>(options: ManagedQueueOptions = {}): SharedQueue<T> {
    checkOptions(options, ['maxsize', 'capacityBytes'], 'Manager.queue');
    return this.#create('queue', [options]);
  }
  /** A queue in the server whose consumers call taskDone (every managed queue is joinable). */
  joinableQueue<T = unknown>(options: ManagedQueueOptions = {}): SharedQueue<T> {
    checkOptions(options, ['maxsize', 'capacityBytes'], 'Manager.joinableQueue');
    return this.#create('joinableQueue', [options]);
  }
  /** A Lock in the server: released if a client holding it dies. */
  lock(): Lock {
    return this.#create('lock', []);
  }
  /** An RLock in the server: released if a client holding it dies. */
  rlock(): RLock {
    return this.#create('rlock', []);
  }
  semaphore(value = 1): Semaphore {
    return this.#create('semaphore', [value]);
  }
  boundedSemaphore(value = 1): BoundedSemaphore {
    return this.#create('boundedSemaphore', [value]);
  }
  /** A Condition in the server, over `lock` (a lock or rlock of this manager) or a new RLock. */
  condition(lock?: Lock | RLock): Condition {
    return this.#create('condition', [lock]);
  }
  event(): Event {
    return this.#create('event', []);
  }
  barrier(parties: number, options: { timeout?: number } = {}): Barrier {
    return this.#create('barrier', [parties, options]);
  }

  /** Registers a type this manager makes with `create(typeid, ...args)`: `factory` (a defineTasks task or a self-contained function) runs in the server. */
  register(typeid: string, factory: (...args: any[]) => unknown, options: RegisterOptions = {}): void {
    if (typeof typeid !== 'string' || typeid === '') throw new TypeError(`typeid must be a non-empty string, got ${describe(typeid)}`);
    if (typeof factory !== 'function') throw new TypeError(`the factory of ${JSON.stringify(typeid)} must be a function, got ${describe(factory)}`);
    checkOptions(options, ['exposed'], 'Manager.register');
    const { exposed } = options;
    if (exposed !== undefined && !(Array.isArray(exposed) && exposed.every((m) => typeof m === 'string'))) {
      throw new TypeError(`exposed must be an array of method names, got ${describe(exposed)}`);
    }
    callManaged(this.#root, 'register', [typeid, specOf(factory), exposed]);
  }

  /** A new object of a registered type, made in the server; its exposed methods are called there. */
  create<T extends object>(typeid: string, ...args: unknown[]): ObjectProxy<T> {
    return this.#create(typeid, args, false); // its factory may take as long as it likes
  }

  /** How many objects the server holds (they go once no proxy or container refers to them). */
  objectCount(): number {
    return callManaged(this.#root, 'objectCount', [], true) as number;
  }

  /** Stops the server (only the process that started it may); its proxies fail with EOFError from then on. */
  async shutdown(): Promise<void> {
    if (this.#server === undefined) {
      throw new Error(`shutdown() stops a manager only from the process that started it; this one connected to ${this.#root.where}, so it calls close()`);
    }
    this.#closed = 'is shut down';
    return (this.#stopping ??= this.#stop(this.#server));
  }

  async #stop({ process: server, pipe }: { process: Process<any>; pipe: ReturnType<typeof Pipe>[0] }): Promise<void> {
    if (server.isAlive()) {
      // Puts into an unbounded queue went ahead without waiting: they land first (as
      // Python's put had, once it returned), unless the server cannot take them in time.
      await landed(performance.now() + SHUTDOWN_GRACE_MS);
      try {
        pipe.send('shutdown');
      } catch {
        // gone already
      }
      await server.join(SHUTDOWN_GRACE_MS);
      if (server.isAlive()) {
        server.kill();
        await server.join();
      }
    }
    pipe.close();
  }

  /** Forgets the manager here (no new objects through this handle); proxies already made keep working. */
  async close(): Promise<void> {
    this.#closed ??= 'is closed';
  }

  /** `shutdown()` for the process that started it, `close()` for one that connected. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#server !== undefined) await this.shutdown();
    else await this.close();
  }
}
