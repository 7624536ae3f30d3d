// Compile-time checks of Value and SharedArray (tsc -p tsconfig.check.json): Python's type
// codes and concur's names alike, an unknown name refused, and each array typed as its own.
import { SharedArray, Value } from '../../src/index.js';

const ints: Int32Array = new SharedArray('i', 3).array; // Python's 'i' is an Int32Array
const longs: BigInt64Array = new SharedArray('q', 2).array;
const doubles: Float64Array = new SharedArray('f64', 2).array;
const bytes: Uint8Array = new SharedArray('B', [1, 2]).array;
const big: bigint = new Value('l', 1n).value;
const n: number = new Value('d', 0.5).value;

// @ts-expect-error 'int32' is neither a concur name (i32) nor a Python code (i)
new Value('int32', 0);
// @ts-expect-error an Int32Array is not a Float64Array
const wrong: Float64Array = new SharedArray('i', 1).array;

// Python's code and concur's name make the same type, both ways.
const viaCode: Value<'i32'> = new Value('i', 0);
const viaName: Value<'i'> = new Value('i32', 0);
const arrays: [SharedArray<'i32'>, SharedArray<'d'>] = [new SharedArray('i', 3), new SharedArray('f64', 3)];
const takesInts = (v: Value<'i32'>): number => v.value + 1;
takesInts(new Value('i', 1));
// @ts-expect-error a 64-bit Value holds a bigint, not a number
const notNumber: Value<'i32'> = new Value('q', 1n);
// @ts-expect-error an initial value of the wrong kind
new Value('q', 1);

void [ints, longs, doubles, bytes, big, n, wrong, viaCode, viaName, arrays, notNumber];
