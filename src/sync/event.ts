import { deadlineOf, runAsync, runSync, wake, type WaitSteps } from './waiting.js';
import { brandInstance, registerShared } from './shared.js';
import { sharedWords } from './shm.js';
import { beforePublish } from './publish.js';

const FLAG = 0;
const GEN = 1; // bumped by every set(), so a waiter knows a set happened even if a clear followed

/** A flag threads wait on: threading.Event. */
export class Event {
  /** @internal */
  readonly _state: Int32Array;

  constructor() {
    brandInstance(this, new.target);
    this._state = sharedWords(2);
  }

  /** Sets the flag and wakes every waiter. */
  set(): void {
    beforePublish();
    Atomics.store(this._state, FLAG, 1);
    Atomics.add(this._state, GEN, 1);
    wake(this._state, GEN);
  }

  /** Clears the flag. */
  clear(): void {
    Atomics.store(this._state, FLAG, 0);
  }

  /** True while set. */
  isSet(): boolean {
    return Atomics.load(this._state, FLAG) === 1;
  }

  /**
   * Waits until the flag is set, up to `timeout` ms; true if it was set, even if it
   * was cleared again before this waiter woke (as Python's Event guarantees).
   */
  wait(timeout?: number): Promise<boolean> {
    return runAsync(this._waitSteps(timeout));
  }

  /** `wait`, blocking this thread. */
  waitSync(timeout?: number): boolean {
    return runSync(this._waitSteps(timeout));
  }

  /** @internal The wait, for either driver. */
  *_waitSteps(timeout: number | undefined): WaitSteps<boolean> {
    const deadline = deadlineOf(timeout);
    const s = this._state;
    // The generation first, then the flag: set() raises the flag before it bumps the
    // generation, so a set that lands between the two reads shows in one of them. (The
    // other order missed a set landing between them and slept on with the flag up.)
    const gen = Atomics.load(s, GEN);
    if (Atomics.load(s, FLAG) === 1) return true;
    for (;;) {
      const woke: boolean = yield { view: s, index: GEN, expected: gen, deadline };
      if (Atomics.load(s, GEN) !== gen || Atomics.load(s, FLAG) === 1) return true;
      if (!woke) return false;
    }
  }
}

registerShared('Event', Event);
