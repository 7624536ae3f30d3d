// The model both queue property tests check against: an array, the count of unfinished
// items, and whether the queue was shut down.
import assert from 'node:assert/strict';
import fc from 'fast-check';

/** One step of a generated queue history. */
export type QueueOp<V> = { op: 'put'; value: V } | { op: 'get' } | { op: 'done' } | { op: 'shutdown'; immediate: boolean };

/** Histories of puts (of `values`), gets, taskDones and shutdowns. */
export function queueOps<V>(values: fc.Arbitrary<V>, maxLength: number): fc.Arbitrary<QueueOp<V>[]> {
  return fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ op: fc.constant('put' as const), value: values }) },
      { weight: 4, arbitrary: fc.record({ op: fc.constant('get' as const) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('done' as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('shutdown' as const), immediate: fc.boolean() }) },
    ),
    { maxLength },
  ) as fc.Arbitrary<QueueOp<V>[]>;
}

interface Finishable {
  taskDone(): void;
  shutdown(options: { immediate?: boolean }): void;
}

/** What the queue should hold and owe, step by step. */
export class QueueModel<V> {
  readonly items: V[] = [];
  unfinished = 0;
  shut = false;

  /** Records a put the queue accepted. */
  put(value: V): void {
    this.items.push(value);
    this.unfinished++;
  }

  /** taskDone on the queue: it must throw exactly when nothing is unfinished. */
  taskDone(q: Finishable): void {
    if (this.unfinished === 0) assert.throws(() => q.taskDone(), RangeError);
    else {
      q.taskDone();
      this.unfinished--;
    }
  }

  /** shutdown on the queue; `immediate` drops the items and counts them done. */
  shutdown(q: Finishable, immediate: boolean): void {
    q.shutdown({ immediate });
    this.shut = true;
    if (immediate) {
      this.unfinished = Math.max(0, this.unfinished - this.items.length);
      this.items.length = 0;
    }
  }
}
