import { BrokenBarrierError } from '../futures/errors.js';
import { checkTimeout, describe } from '../futures/future.js';
import { deadlineOf, runAsync, runSync, wake, type WaitSteps } from './waiting.js';
import { lookupTask, taskRefOf, type TaskRef } from '../tasks/registry.js';
import { loadFunction } from '../tasks/load.js';
import { brandInstance, onLeaving, registerShared } from './shared.js';
import { lockInternal, unlockInternal } from './internal-lock.js';
import { isOwnerGone, ME } from './owner.js';
import { sharedWords } from './shm.js';
import { beforePublish } from './publish.js';

// Layout. Every change is made under the internal lock LOCK; words read outside it are
// written with Atomics. A generation fills with exactly `parties` arrivals; the last
// one runs the action while the state is PASSING, and arrivals meanwhile wait for the
// next generation (so no generation ever takes more than `parties`). The last arrival has
// tripped the pass, as Python's does under its lock: an abort() meanwhile is kept in
// ABORTING and breaks the barrier once the pass is through, and a reset() meanwhile only
// clears that.
//
// A thread that is stopped never acts again, so a generation it arrived in cannot pass
// as the others expect: it breaks, as if the thread had called abort() (Python's advice
// for a thread that fails). ARRIVALS records each arrival's owner by index; whoever
// looks next (a waiter every SCAN_MS, the next arrival, the passer before it passes)
// finds the gone owner and breaks the generation. The passer stopped inside the action
// is found the same way through PASSER.
//
// The words live in memory other processes map (shm.ts), and a process can be SIGKILLed
// inside a section of LOCK, leaving it half done. The next taker is told (lockInternal)
// and breaks the generation, as it would for a party that died while waiting: a dead
// party can never let the others through. _breakLocked writes every word it needs, so it
// mends any half-done section; a waiter of a generation that had in fact passed still
// returns its index, since the break is recorded against the later generation.
const LOCK = 0;
const COUNT = 1; // arrivals in the filling generation
const GEN = 2; // the filling generation's number; bumped when it passes or breaks
const STATE = 3; // FILLING, PASSING or BROKEN
const BREAKS = 4; // how many generations broke so far
const PASSER = 5; // owner id of the thread running the action (while PASSING)
const EPOCH = 6; // bumped by every change a sleeper may wait for: what sleepers sleep on
const ABORTING = 7; // 1 once abort() came while PASSING: the barrier breaks after the pass
const RING = 16; // the generations the last RING breaks broke, by break number
const BROKE = 8;
const ARRIVALS = BROKE + RING; // the owner id of each arrival of the current generation, by index
/** Arrivals per generation whose owner is recorded (a later arrival of a larger barrier is not watched). */
const TRACKED = 1024;
/** How often a waiter looks for an arrival whose thread was stopped. */
const SCAN_MS = 100;
const GONE_MESSAGE = 'a thread waiting on the barrier was terminated; the barrier is now broken';
const INLINE_MESSAGE =
  'a Barrier whose action is an inline function cannot be used in another thread or process: the party that arrives last runs the action, and a function cannot go there with it; make the action a defineTasks task';

/** A seam for a test: this process SIGKILLs itself inside an arrival, counted but its owner not yet recorded. */
const DIE_ARRIVING = process.env.CONCUR_TEST_BARRIER_DIE === 'arrive';

const FILLING = 0;
const PASSING = 1;
const BROKEN = 2;

/** What an arrival learned: its index, its generation, and how many breaks came before it. */
export interface Ticket {
  index: number;
  gen: number;
  breaks: number;
}

/** Options of a Barrier. */
export interface BarrierOptions {
  /**
   * Called by one of the threads when all have arrived, before any is released. When
   * threads share the barrier, make it a defineTasks task: the thread that arrives last
   * runs it, finding it by module and name. A barrier with an inline function stays in its
   * thread: passing it to another thread or process throws a TypeError.
   */
  action?: () => void;
  /** Default timeout of `wait` in ms. */
  timeout?: number;
}

/**
 * A fixed number of threads wait until all have arrived: threading.Barrier. Any number
 * of threads may use it; each pass lets exactly `parties` of them through.
 */
export class Barrier {
  /** @internal */
  readonly _state: Int32Array;
  /** How many threads must arrive. */
  readonly parties: number;
  /** @internal */
  readonly _timeout: number | undefined;
  /** @internal Not carried into other threads: a function cannot cross. */
  readonly _action: (() => void) | undefined;
  /** @internal How another thread finds the action: its defineTasks name. */
  readonly _actionRef: TaskRef | undefined;
  /** @internal The action is a function no other thread can find (not a defineTasks task). */
  readonly _inlineAction: boolean;

  constructor(parties: number, options: BarrierOptions = {}) {
    if (!Number.isInteger(parties) || parties < 1 || parties >= 2 ** 30) throw new RangeError(`parties must be an integer from 1 to 2**30 - 1, got ${describe(parties)}`);
    checkTimeout(options.timeout);
    if (options.action !== undefined && typeof options.action !== 'function') throw new TypeError(`action must be a function, got ${describe(options.action)}`);
    brandInstance(this, new.target);
    this.parties = parties;
    this._timeout = options.timeout;
    Object.defineProperty(this, '_action', { value: options.action, enumerable: false });
    this._actionRef = options.action === undefined ? undefined : taskRefOf(options.action);
    this._inlineAction = options.action !== undefined && this._actionRef === undefined;
    this._state = sharedWords(ARRIVALS + Math.min(parties, TRACKED));
  }

  /** Threads waiting now in the filling generation. */
  get nWaiting(): number {
    return Atomics.load(this._state, STATE) === FILLING ? Atomics.load(this._state, COUNT) : 0;
  }

  /**
   * True once aborted, reset while threads waited, or a wait timed out; or once a party
   * waiting in the filling generation is found gone (asking breaks it then, as the next
   * arrival would).
   */
  get broken(): boolean {
    const s = this._state;
    if (Atomics.load(s, STATE) === FILLING && Atomics.load(s, COUNT) > 0) this._breakIfLost();
    return Atomics.load(s, STATE) === BROKEN || Atomics.load(s, ABORTING) !== 0;
  }

  /** @internal Breaks the filling generation if one of its arrivals is gone. */
  _breakIfLost(): void {
    const s = this._state;
    this._lock();
    const lost = Atomics.load(s, STATE) === FILLING && this._lostArrivalLocked();
    if (lost) this._breakLocked();
    unlockInternal(s, LOCK);
    if (lost) wake(s, EPOCH);
  }

  /** Arrives and waits for the others; resolves to this thread's distinct index, 0..parties-1. */
  wait(timeout?: number): Promise<number> {
    return this._wait(timeout, ME, runAsync, runAsync);
  }

  /**
   * @internal `wait` on behalf of `owner`, with each phase's steps run by the driver
   * given: the proxy broker serves a caller of another process this way, with a departure
   * that ends (breaking the generation, as a thread stopped while waiting does) the
   * moment the caller's process is gone, and an arrival that is not made for a caller
   * that `present` says is gone.
   */
  async _wait(
    timeout: number | undefined,
    owner: number,
    arrive: (steps: WaitSteps<Ticket>) => Promise<Ticket>,
    depart: (steps: WaitSteps<number>) => Promise<number>,
    present?: () => boolean,
  ): Promise<number> {
    checkTimeout(timeout);
    const ticket = await arrive(this._arriveSteps(owner, present));
    if (ticket.index < this.parties - 1) return depart(this._departSteps(ticket, deadlineOf(timeout ?? this._timeout)));
    // This thread may not have imported the action's module yet; waiting here is allowed.
    if (this._action === undefined && this._actionRef !== undefined) {
      await loadFunction({ kind: 'module', ...this._actionRef }).catch(() => undefined);
    }
    return this._pass(ticket);
  }

  /** `wait`, blocking this thread. */
  waitSync(timeout?: number): number {
    checkTimeout(timeout);
    const ticket = runSync(this._arriveSteps());
    if (ticket.index < this.parties - 1) return runSync(this._departSteps(ticket, deadlineOf(timeout ?? this._timeout)));
    return this._pass(ticket);
  }

  /**
   * Breaks the barrier: current and future waiters get BrokenBarrierError until `reset()`.
   * A pass already tripped by its last arrival goes through; the barrier breaks after it.
   */
  abort(): void {
    const s = this._state;
    beforePublish();
    this._lock();
    const state = Atomics.load(s, STATE);
    if (state === PASSING) {
      Atomics.store(s, ABORTING, 1);
      Atomics.add(s, EPOCH, 1);
    } else if (state !== BROKEN) this._breakLocked();
    unlockInternal(s, LOCK);
    wake(s, EPOCH);
  }

  /** Returns to the initial state; threads waiting now get BrokenBarrierError (not those of a pass already tripped). */
  reset(): void {
    const s = this._state;
    beforePublish();
    this._lock();
    const state = Atomics.load(s, STATE);
    if (state === PASSING) {
      // The pass starts the next generation afresh itself: only an abort meanwhile is undone.
      Atomics.store(s, ABORTING, 0);
    } else {
      if (state === FILLING && Atomics.load(s, COUNT) > 0) this._breakLocked();
      Atomics.store(s, STATE, FILLING);
    }
    Atomics.add(s, EPOCH, 1);
    unlockInternal(s, LOCK);
    wake(s, EPOCH);
  }

  /**
   * @internal Takes an index in the filling generation. While a pass is under way it
   * waits for the next generation: the arrivals of one generation are exactly `parties`.
   * That wait has no deadline, as in Python, where the pass holds the barrier's lock and
   * a wait's timeout starts once it has arrived: timing out there would break the pass
   * of others (a pass whose thread is stopped is broken all the same, see PASSER).
   */
  *_arriveSteps(owner = ME, present?: () => boolean): WaitSteps<Ticket> {
    const s = this._state;
    // What this thread sent ahead lands first (publish.ts): this arrival may let another
    // process through at once, and that one must find those puts there. So in _pass,
    // abort and reset.
    beforePublish();
    this._lock();
    for (;;) {
      if (present !== undefined && !present()) {
        unlockInternal(s, LOCK);
        throw new BrokenBarrierError('the waiter is gone');
      }
      const state = Atomics.load(s, STATE);
      if (state === BROKEN || (state === PASSING && Atomics.load(s, ABORTING) !== 0)) {
        unlockInternal(s, LOCK);
        throw new BrokenBarrierError('the barrier is broken');
      }
      if (state === FILLING) {
        if (this._lostArrivalLocked()) {
          this._breakLocked();
          unlockInternal(s, LOCK);
          wake(s, EPOCH);
          throw new BrokenBarrierError(GONE_MESSAGE);
        }
        const index = Atomics.add(s, COUNT, 1);
        if (DIE_ARRIVING) process.kill(process.pid, 'SIGKILL');
        if (ARRIVALS + index < s.length) Atomics.store(s, ARRIVALS + index, owner);
        const ticket = { index, gen: Atomics.load(s, GEN), breaks: Atomics.load(s, BREAKS) };
        if (index === this.parties - 1) {
          Atomics.store(s, STATE, PASSING);
          Atomics.store(s, PASSER, ME);
        }
        unlockInternal(s, LOCK);
        return ticket;
      }
      if (isOwnerGone(Atomics.load(s, PASSER))) {
        // The thread running the action was stopped inside it: that pass never ends.
        this._breakLocked();
        continue;
      }
      const epoch = Atomics.load(s, EPOCH);
      unlockInternal(s, LOCK);
      yield { view: s, index: EPOCH, expected: epoch, deadline: Infinity };
      this._lock();
    }
  }

  /** @internal Waits for the ticket's generation to pass (its index) or break (BrokenBarrierError). */
  *_departSteps(ticket: Ticket, deadline: number): WaitSteps<number> {
    const s = this._state;
    let scanned = performance.now();
    for (;;) {
      const epoch = Atomics.load(s, EPOCH);
      // A break bumps BREAKS before GEN: a generation seen ended with BREAKS unchanged passed.
      if (Atomics.load(s, GEN) !== ticket.gen) {
        if (Atomics.load(s, BREAKS) === ticket.breaks || this._passed(ticket)) return ticket.index;
        throw new BrokenBarrierError('the barrier was broken while waiting');
      }
      if (Atomics.load(s, STATE) === PASSING && isOwnerGone(Atomics.load(s, PASSER))) {
        this._breakIfStill(ticket, (p) => isOwnerGone(p));
        continue;
      }
      const now = performance.now();
      if (now - scanned >= SCAN_MS) {
        scanned = now;
        if (this._breakIfStill(ticket, () => this._lostArrivalLocked())) throw new BrokenBarrierError(GONE_MESSAGE);
      }
      const woke: boolean = yield { view: s, index: EPOCH, expected: epoch, deadline };
      if (!woke) {
        if (this._breakIfStill(ticket, () => Atomics.load(s, STATE) !== PASSING)) throw new BrokenBarrierError('barrier wait timed out; the barrier is now broken');
        // Out of time while the last arrival runs the action: the pass is tripped and goes
        // through for this waiter too (in Python the action holds the lock a timed-out
        // waiter must take back first), so it waits on for the pass.
        deadline = Infinity;
      }
    }
  }

  /** @internal The last arrival: runs the action, then starts the next generation and releases the rest. */
  _pass(ticket: Ticket): number {
    try {
      const ref = this._actionRef;
      const action = this._action ?? (ref === undefined ? undefined : (lookupTask(ref.module, ref.name) as (() => void) | undefined));
      if (action === undefined && ref !== undefined) {
        throw new Error('the Barrier action is not available in this thread: define it with defineTasks and import its module here');
      }
      // A copy that crossed where the onLeaving check (end of file) does not look (a Pipe, a queue's item):
      // passing without the action would skip it unseen.
      if (action === undefined && this._inlineAction) throw new TypeError(INLINE_MESSAGE);
      action?.();
    } catch (err) {
      this._breakIfStill(ticket, () => true);
      throw err;
    }
    const s = this._state;
    beforePublish();
    this._lock();
    // Broken during the action (a party was stopped, a process died holding LOCK): its waiters raise.
    const broken = Atomics.load(s, BREAKS) !== ticket.breaks;
    const lost = !broken && this._lostArrivalLocked();
    if (lost) this._breakLocked();
    const passed = !broken && !lost;
    if (passed) {
      Atomics.store(s, COUNT, 0);
      Atomics.store(s, PASSER, 0);
      Atomics.add(s, GEN, 1);
      Atomics.store(s, STATE, FILLING);
      Atomics.add(s, EPOCH, 1);
      // Recorded against the next generation: this one's waiters still find it passed.
      if (Atomics.load(s, ABORTING) !== 0) this._breakLocked();
    }
    unlockInternal(s, LOCK);
    wake(s, EPOCH);
    if (lost) throw new BrokenBarrierError(GONE_MESSAGE);
    if (!passed) throw new BrokenBarrierError('the barrier was broken before its pass was through');
    return ticket.index;
  }

  /** @internal Breaks the ticket's generation if it is still the current one and `why(passer)` holds; true if it did. */
  _breakIfStill(ticket: Ticket, why: (passer: number) => boolean): boolean {
    const s = this._state;
    this._lock();
    const still = Atomics.load(s, GEN) === ticket.gen && Atomics.load(s, BREAKS) === ticket.breaks && why(Atomics.load(s, PASSER));
    if (still) this._breakLocked();
    unlockInternal(s, LOCK);
    if (still) wake(s, EPOCH);
    return still;
  }

  /** @internal Takes the internal lock; one a process died holding is taken over, and the generation broken. */
  _lock(): void {
    const s = this._state;
    if (!lockInternal(s, LOCK)) return;
    this._breakLocked();
    wake(s, EPOCH);
  }

  /** @internal Under the lock: true if an arrival of the current generation belongs to a thread that was stopped. */
  _lostArrivalLocked(): boolean {
    const s = this._state;
    const n = Math.min(Atomics.load(s, COUNT), s.length - ARRIVALS);
    for (let i = 0; i < n; i++) if (isOwnerGone(Atomics.load(s, ARRIVALS + i))) return true;
    return false;
  }

  /** @internal Ends the current generation as broken (under the lock): its waiters raise, and so do arrivals until reset. */
  _breakLocked(): void {
    const s = this._state;
    const n = Atomics.load(s, BREAKS);
    Atomics.store(s, BROKE + (n & (RING - 1)), Atomics.load(s, GEN));
    Atomics.store(s, BREAKS, (n + 1) | 0);
    Atomics.add(s, GEN, 1);
    Atomics.store(s, COUNT, 0);
    Atomics.store(s, PASSER, 0);
    Atomics.store(s, ABORTING, 0);
    Atomics.store(s, STATE, BROKEN);
    Atomics.add(s, EPOCH, 1);
  }

  /**
   * @internal Whether the ticket's (ended) generation passed: the first break after the
   * arrival broke a later generation. Past RING breaks the record is gone; then it
   * counts as broken, as Python reports a break that came before the waiter woke.
   */
  _passed(ticket: Ticket): boolean {
    const s = this._state;
    this._lock();
    const since = (Atomics.load(s, BREAKS) - ticket.breaks) | 0;
    const passed = since === 0 || (since <= RING && Atomics.load(s, BROKE + (ticket.breaks & (RING - 1))) !== ticket.gen);
    unlockInternal(s, LOCK);
    return passed;
  }
}

registerShared('Barrier', Barrier);
// Refused where it leaves (a Thread's, a pool task's or a Process's argument), before
// anything has started: at the pass the mistake would show only when a copy arrives last.
onLeaving((value) => {
  if (value instanceof Barrier && value._inlineAction) throw new TypeError(INLINE_MESSAGE);
});
