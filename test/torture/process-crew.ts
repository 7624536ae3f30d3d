/**
 * The children of a process torture round: Processes and process-pool tasks, each in a
 * slot of its own (a respawned child gets a new slot), killed with SIGKILL at the
 * parent's choosing. The parent writes "<slot> K" to the log before it kills, so a reader
 * of the log knows that nothing the slot logged after it was done by a live process.
 */
import { Process, ProcessPoolExecutor, type Future } from '../../src/index.js';
import type { TaskFunction } from '../../src/index.js';
import type { ProcessLog } from './process-log.js';

/** One child. */
export interface Member {
  slot: number;
  kind: 'process' | 'pool';
  /** Killed on purpose (SIGKILL by us, or the pool's timeout). */
  killed: boolean;
  /** Settles when it has ended, whatever the way. */
  ended: Promise<void>;
  /** Set when it ended in a way nobody asked for. */
  failure?: unknown;
  /** It has ended (whatever the way). */
  over: boolean;
  /** What it is for (a role), for the state dump. */
  role: string;
  pid?: number;
  /** When it was started (performance.now()). */
  since: number;
  /** It said who it is ("S"): it runs and its proxies are connected. */
  started: boolean;
  proc?: Process<any>;
  future?: Future<unknown>;
}

/** Starts, kills and tracks the children of one round. */
export class Crew {
  readonly members: Member[] = [];
  kills = 0;
  #pool: ProcessPoolExecutor | undefined;

  /**
   * `scan` reads the log (and hands "S" lines to `see`); `backstopMs` is the timeout of
   * every pool task, so that a task stuck for good is killed by its pool at worst.
   */
  constructor(
    readonly log: ProcessLog,
    poolWorkers: number,
    readonly scan: () => void,
    readonly backstopMs: number,
  ) {
    this.#pool = poolWorkers > 0 ? new ProcessPoolExecutor({ maxWorkers: poolWorkers }) : undefined;
  }

  /** True when pool tasks can be started. */
  get hasPool(): boolean {
    return this.#pool !== undefined;
  }

  /** Starts `target(...args(slot))` in a Process of its own. */
  process<A extends unknown[]>(role: string, target: TaskFunction<A, unknown>, args: (slot: number) => A): Member {
    const slot = this.members.length;
    const proc = new Process({ target, args: args(slot), name: `torture-${role}-${slot}` });
    const m: Member = { slot, kind: 'process', killed: false, role, proc, ended: Promise.resolve(), since: performance.now(), started: false, over: false };
    this.members.push(m);
    proc.start();
    m.ended = proc.join().then(() => {
      m.over = true;
      if (!m.killed && proc.exitCode !== 0) m.failure = new Error(`process in slot ${slot} (${role}) exited with code ${proc.exitCode}`);
    });
    return m;
  }

  /**
   * Starts `target(...args(slot))` as a pool task; with a timeout the pool kills it then.
   * `onTimeout` runs when it was (to start a replacement, say).
   */
  poolTask<A extends unknown[]>(role: string, target: TaskFunction<A, unknown>, args: (slot: number) => A, timeout?: number, onTimeout?: (m: Member) => void): Member {
    if (this.#pool === undefined) throw new Error('this crew has no pool');
    const slot = this.members.length;
    // Always a timeout: a task with one is sent to a worker of its own, never queued behind
    // another task that runs until it is killed; and a task stuck for good ends at worst then.
    const future = this.#pool.submitWith({ timeout: timeout ?? this.backstopMs }, target, ...args(slot)) as Future<unknown>;
    const m: Member = { slot, kind: 'pool', killed: false, role, future, ended: Promise.resolve(), since: performance.now(), started: false, over: false };
    this.members.push(m);
    m.ended = future.then(
      () => {
        m.over = true;
      },
      (err: unknown) => {
        m.over = true;
        const name = err instanceof Error ? err.name : '';
        if (name === 'TimeoutError') {
          // The pool SIGKILLed its worker at a moment only it knew: the marker comes late.
          m.killed = true;
          this.kills++;
          this.log.write(slot, 'K');
          onTimeout?.(m);
        } else if (!(m.killed && name === 'WorkerCrashedError')) m.failure = err;
      },
    );
    return m;
  }

  /** Notes the pids children report ("<slot> S <pid>"). */
  see(slot: number, code: string, n: number): void {
    const m = this.members[slot];
    if (code === 'S' && m !== undefined) {
      m.pid = n;
      m.started = true;
    }
  }

  /** True while a live member has not said it runs yet. */
  starting(): boolean {
    return this.members.some((m) => !m.killed && !m.started && !m.over);
  }

  /**
   * A complaint about a member that failed (it will never say it runs: waiting for it
   * would only end at the test's timeout, without a word), or about a live member that
   * has been starting for longer than `ms`.
   */
  slowStart(ms: number): string | undefined {
    const failed = this.members.find((x) => x.failure !== undefined);
    if (failed !== undefined) return `slot ${failed.slot} (${failed.kind}, ${failed.role}) failed: ${(failed.failure as Error).stack ?? String(failed.failure)}`;
    const now = performance.now();
    const m = this.members.find((x) => !x.killed && !x.started && !x.over && now - x.since > ms);
    return m === undefined ? undefined : `slot ${m.slot} (${m.kind}, ${m.role}) has not started within ${Math.round(now - m.since)} ms`;
  }

  /** True once every member runs or has ended; throws the first failure (a member that failed never starts). */
  allStarted(): boolean {
    this.assertNoFailure();
    return this.members.every((m) => m.killed || m.over || m.pid !== undefined);
  }

  /** True if `m` can be killed now (a pool task only once it said its pid). */
  killable(m: Member): boolean {
    return !m.killed && (m.kind === 'process' ? m.proc!.isAlive() : m.pid !== undefined && m.future!.running());
  }

  /** Writes the kill marker, then SIGKILLs the child. */
  kill(m: Member): void {
    if (!this.killable(m)) throw new Error(`slot ${m.slot} cannot be killed now`);
    m.killed = true;
    this.kills++;
    this.log.write(m.slot, 'K');
    if (m.kind === 'process') m.proc!.kill();
    else process.kill(m.pid!, 'SIGKILL'); // a worker process our pool started
  }

  /** Members not killed. */
  live(): Member[] {
    return this.members.filter((m) => !m.killed);
  }

  /** Waits until every member `which` selects has ended, those started meanwhile included. */
  async allEnded(which: (m: Member) => boolean = () => true, guard: <T>(p: Promise<T>) => Promise<T> = (p) => p): Promise<void> {
    for (let n = -1; n !== this.members.length; ) {
      n = this.members.length;
      await guard(Promise.all(this.members.filter(which).map((m) => m.ended)));
    }
  }

  /**
   * Kills every live member (a pool task once it has said its pid) and waits until all
   * have ended; throws past `ms`.
   */
  async killAll(ms: number, guard: <T>(p: Promise<T>) => Promise<T> = (p) => p): Promise<void> {
    let ended = false;
    const all = this.allEnded(() => true).then(() => (ended = true));
    const deadline = performance.now() + ms;
    while (!ended) {
      this.scan();
      for (const m of this.members) if (this.killable(m)) this.kill(m);
      if (performance.now() > deadline) throw new Error(`the children did not all end within ${ms} ms of being killed: ${JSON.stringify(this.describe())}`);
      await guard(new Promise((r) => setTimeout(r, 20)));
    }
    await all;
  }

  /** Throws the first unexpected ending. */
  assertNoFailure(): void {
    for (const m of this.members) {
      if (m.failure !== undefined) throw new Error(`slot ${m.slot} (${m.kind}, ${m.role}) failed: ${(m.failure as Error).stack ?? String(m.failure)}`);
    }
  }

  /** Shuts the pool down (its workers gone), or at once when something went wrong. */
  async close(wait: boolean): Promise<void> {
    if (this.#pool !== undefined) await this.#pool.shutdown({ wait, cancelFutures: !wait });
  }

  /** What the state dump shows of each member. */
  describe(): unknown[] {
    return this.members.map((m) => ({
      slot: m.slot,
      kind: m.kind,
      role: m.role,
      killed: m.killed,
      started: m.started,
      over: m.over,
      pid: m.pid ?? m.proc?.pid,
      failure: m.failure === undefined ? undefined : String(m.failure),
    }));
  }
}
