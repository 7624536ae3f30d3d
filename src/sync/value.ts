import { describe } from '../futures/future.js';
import { RLock } from './semlock.js';
import { brandInstance, registerShared } from './shared.js';
import { allocShared } from './shm.js';
import { beforePublish } from './publish.js';

const TYPES = {
  i8: Int8Array,
  u8: Uint8Array,
  i16: Int16Array,
  u16: Uint16Array,
  i32: Int32Array,
  u32: Uint32Array,
  f32: Float32Array,
  f64: Float64Array,
  i64: BigInt64Array,
  u64: BigUint64Array,
} as const;

// Python's array type codes, for people coming from multiprocessing.Value('i', 0).
const PYTHON_CODES = {
  b: 'i8', B: 'u8', h: 'i16', H: 'u16', i: 'i32', I: 'u32', l: 'i64', L: 'u64', q: 'i64', Q: 'u64', f: 'f32', d: 'f64',
} as const satisfies Record<string, keyof typeof TYPES>;

/** The element types of Value and SharedArray ('i32', 'f64', … or Python's 'i', 'd', …). */
export type ElementType = keyof typeof TYPES | keyof typeof PYTHON_CODES;
type Element<T extends ElementType> = T extends 'i64' | 'u64' | 'l' | 'L' | 'q' | 'Q' ? bigint : number;
/** The typed array of element type `T` (Python's codes named by what they stand for). */
type ArrayOf<T extends ElementType> = InstanceType<(typeof TYPES)[T extends keyof typeof PYTHON_CODES ? (typeof PYTHON_CODES)[T] : T & keyof typeof TYPES]>;

type AnyCtor = new (buffer: SharedArrayBuffer, byteOffset?: number, length?: number) => Value['_view'];

function ctorOf(type: string): AnyCtor & { BYTES_PER_ELEMENT: number } {
  const name = ((PYTHON_CODES as Record<string, keyof typeof TYPES>)[type] ?? type) as keyof typeof TYPES;
  const ctor = TYPES[name];
  if (ctor === undefined) {
    throw new TypeError(`unknown element type ${describe(type)}; use one of ${Object.keys(TYPES).join(', ')}, or Python's codes ${Object.keys(PYTHON_CODES).join(', ')}`);
  }
  return ctor as unknown as AnyCtor & { BYTES_PER_ELEMENT: number };
}

// The element's own type is a second parameter, left to its default: the instance's
// members use only it, so a Value made with Python's code ('i') is the same type as one
// made with concur's name ('i32'). (Used directly, the code itself would make them
// different types: TypeScript compares the type arguments rather than the members.)

/** What a Value's element type holds. */
export type Holds = 'integers' | 'numbers' | 'bigints';

/** What the typed array `view` holds. */
export function holdsOf(view: ArrayBufferView): Holds {
  if (view instanceof Float32Array || view instanceof Float64Array) return 'numbers';
  return view instanceof BigInt64Array || view instanceof BigUint64Array ? 'bigints' : 'integers';
}

/** Throws the TypeError a Value of `type` gives for `x` it cannot hold (here, and at a proxy's write in another process). */
export function checkStorable(type: string, holds: Holds, x: unknown): void {
  if (holds === 'bigints' ? typeof x !== 'bigint' : typeof x !== 'number' || (holds === 'integers' && !Number.isInteger(x))) {
    throw new TypeError(`Value('${type}') holds ${holds}: cannot store ${describe(x)}`);
  }
}

/** One number in shared memory with a lock beside it: multiprocessing.Value. */
export class Value<T extends ElementType = 'f64', E extends Element<T> = Element<T>> {
  /** @internal */
  readonly _view: Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;
  /** @internal */
  readonly _lock: RLock;
  /** @internal The type as it was given ('i', 'i32'), for errors. */
  readonly _type: string;

  constructor(type: T, initial?: Element<T>) {
    brandInstance(this, new.target);
    const Ctor = ctorOf(type);
    this._type = type;
    const { buffer, byteOffset } = allocShared(Ctor.BYTES_PER_ELEMENT);
    this._view = new Ctor(buffer, byteOffset, 1);
    this._lock = new RLock();
    if (initial !== undefined) this.value = initial as E;
  }

  /** The number; each read and write is atomic (a read-modify-write is not: hold getLock()). */
  get value(): E {
    const v = this._view;
    return (v instanceof Float32Array || v instanceof Float64Array ? v[0] : Atomics.load(v as Int32Array, 0)) as E;
  }
  /** Throws a TypeError for what the type cannot hold, as ctypes does (an integer type and 1.5, a float and '1.5'); an integer out of range wraps, as there. */
  set value(x: E) {
    const v = this._view;
    const holds = holdsOf(v);
    checkStorable(this._type, holds, x);
    beforePublish();
    if (holds === 'numbers') v[0] = x as number;
    else Atomics.store(v as Int32Array, 0, x as number);
  }

  /** The lock that guards compound updates (`value += 1`). */
  getLock(): RLock {
    return this._lock;
  }
}

/** A typed array in shared memory with a lock beside it: multiprocessing.Array. */
export class SharedArray<T extends ElementType = 'f64', A extends ArrayOf<T> = ArrayOf<T>> {
  /** The typed view: index it, iterate it, pass it to Atomics. */
  readonly array: A;
  /** @internal */
  readonly _lock: RLock;

  constructor(type: T, lengthOrValues: number | ArrayLike<Element<T>>) {
    brandInstance(this, new.target);
    const Ctor = ctorOf(type);
    const length = typeof lengthOrValues === 'number' ? lengthOrValues : lengthOrValues.length;
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`length must be an integer >= 0, got ${describe(length)}`);
    const { buffer, byteOffset } = allocShared(Ctor.BYTES_PER_ELEMENT * length);
    const view = new Ctor(buffer, byteOffset, length);
    if (typeof lengthOrValues !== 'number') (view as unknown as { set(v: ArrayLike<unknown>): void }).set(lengthOrValues);
    this.array = view as unknown as A;
    this._lock = new RLock();
  }

  /** Number of elements. */
  get length(): number {
    return this.array.length;
  }

  /** The lock that guards compound updates. */
  getLock(): RLock {
    return this._lock;
  }
}

registerShared('Value', Value);
registerShared('SharedArray', SharedArray);
