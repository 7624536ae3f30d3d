/**
 * A chunk of map items or results that are all numbers travels as a Float64Array:
 * structured clone and v8 serialization tag and encode every element of a plain array
 * one by one, but copy a typed array's bytes whole, which makes a chunk of a hundred
 * thousand numbers cost a memcpy instead of milliseconds. Indexing and length are the
 * same on both, so the code on either side reads a chunk without knowing which it got.
 */

/** Chunks shorter than this go as they are: the scan would cost more than it saves. */
const MIN_PACKED = 64;

/** A Float64Array of `values` when every one is a number (and there are enough), else `values` itself. */
export function packNumbers<T>(values: T[]): T[] | Float64Array {
  if (values.length < MIN_PACKED) return values;
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'number') return values;
  return Float64Array.from(values as unknown as number[]);
}
