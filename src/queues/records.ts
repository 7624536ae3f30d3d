/**
 * The bytes of a SharedQueue item, and reading and writing them in shared memory.
 *
 *   record   [tag u8][payload]: a float64 (TAG_NUMBER), UTF-8 (TAG_STRING: a string
 *            without lone surrogates, which UTF-8 cannot hold), or
 *            v8.serialize's structured clone (TAG_CLONE)
 *   in a ring, each record is led by its length as a little-endian u32, and both may
 *   wrap round the ring's end: the helpers here read and write across it.
 */
import { DefaultSerializer, deserialize } from 'node:v8';
import { sendingData } from '../sync/views.js';

/** Tag of a record holding a float64. */
export const TAG_NUMBER = 1;
const TAG_STRING = 2;
const TAG_CLONE = 3;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A record of nothing (a number read in place instead). */
export const EMPTY = new Uint8Array(0);
const scratch = new Uint8Array(9);
const scratchView = new DataView(scratch.buffer);
const views = new WeakMap<Uint8Array, DataView>();
/** A DataView of a ring (made once per ring: several rings may share one region). */
export const viewOf = (ring: Uint8Array): DataView => {
  let v = views.get(ring);
  if (v === undefined) views.set(ring, (v = new DataView(ring.buffer, ring.byteOffset, ring.byteLength)));
  return v;
};

/** Calls `each` with every record of a buffer made by `_takeRecords`. */
export function forEachRecord(bytes: Uint8Array, each: (record: Uint8Array) => void): void {
  for (let pos = 0; pos < bytes.length; ) {
    const length = readU32(bytes, pos);
    each(bytes.subarray(pos + 4, pos + 4 + length));
    pos += 4 + length;
  }
}

/**
 * v8.serialize, refusing shared memory: its default copies the bytes of a view of a
 * SharedArrayBuffer (a bare one it refuses), so a primitive (a Lock, an Event, a Value:
 * public fields over shared words) came out of a queue as a private copy that shares,
 * and locks, nothing.
 */
class ItemSerializer extends DefaultSerializer {
  // Node's DefaultSerializer has this hook (lib/v8.js); @types/node does not declare it.
  _writeHostObject(view: NodeJS.TypedArray | DataView): void {
    if (view.buffer instanceof SharedArrayBuffer) {
      throw new TypeError(
        'it holds shared memory (a Lock, Event, Value or other primitive, or a view of a SharedArrayBuffer), which a copy would not share; ' +
          'pass a primitive to the Thread or Process as an argument, or down a Pipe, or use a Manager proxy, which a queue carries',
      );
    }
    (DefaultSerializer.prototype as unknown as { _writeHostObject(view: unknown): void })._writeHostObject.call(this, view);
  }
}

function serialize(value: unknown): Buffer {
  const ser = new ItemSerializer();
  ser.writeHeader();
  ser.writeValue(value);
  return ser.releaseBuffer();
}

/** The record for an item; a number may use the thread's scratch record when the caller copies it at once. */
export function encode(item: unknown, reuse = false): Uint8Array {
  if (typeof item === 'number') {
    const out = reuse ? scratch : new Uint8Array(9);
    out[0] = TAG_NUMBER;
    (reuse ? scratchView : new DataView(out.buffer)).setFloat64(1, item, true);
    return out;
  }
  // UTF-8 would turn a lone surrogate into U+FFFD: such a string is cloned instead.
  if (typeof item === 'string' && (item as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    const text = encoder.encode(item);
    const out = new Uint8Array(text.length + 1);
    out[0] = TAG_STRING;
    out.set(text, 1);
    return out;
  }
  let body: Buffer;
  try {
    body = sendingData(item, serialize);
  } catch (err) {
    throw new TypeError(`the item cannot be put on a SharedQueue: ${(err as Error).message}`, { cause: err });
  }
  const out = new Uint8Array(body.length + 1);
  out[0] = TAG_CLONE;
  out.set(body, 1);
  return out;
}

/** The item a record holds. */
export function decode(bytes: Uint8Array): unknown {
  switch (bytes[0]) {
    case TAG_NUMBER:
      return new DataView(bytes.buffer, bytes.byteOffset).getFloat64(1, true);
    case TAG_STRING:
      return decoder.decode(bytes.subarray(1));
    default:
      return deserialize(bytes.subarray(1));
  }
}

/** Writes a little-endian u32 at `at` of a ring, wrapping at its end. */
export function writeU32(ring: Uint8Array, at: number, value: number): void {
  const n = ring.length;
  if (at + 4 <= n) {
    ring[at] = value & 0xff;
    ring[at + 1] = (value >>> 8) & 0xff;
    ring[at + 2] = (value >>> 16) & 0xff;
    ring[at + 3] = (value >>> 24) & 0xff;
  } else for (let i = 0; i < 4; i++) ring[(at + i) % n] = (value >>> (8 * i)) & 0xff;
}

/** Reads a little-endian u32 at `at` of a ring (or of a plain buffer), wrapping at its end. */
export function readU32(ring: Uint8Array, at: number): number {
  const n = ring.length;
  if (at + 4 <= n) return (ring[at]! | (ring[at + 1]! << 8) | (ring[at + 2]! << 16) | (ring[at + 3]! << 24)) >>> 0;
  return (ring[at]! | (ring[(at + 1) % n]! << 8) | (ring[(at + 2) % n]! << 16) | (ring[(at + 3) % n]! << 24)) >>> 0;
}

/** Copies `bytes` into a ring from `at`, going on at 0 past its end. */
export function copyIn(ring: Uint8Array, at: number, bytes: Uint8Array): void {
  const first = Math.min(bytes.length, ring.length - at);
  if (first === bytes.length) ring.set(bytes, at);
  else {
    ring.set(bytes.subarray(0, first), at);
    ring.set(bytes.subarray(first), 0);
  }
}

/** Copies `length` bytes of a ring from `at` (wrapping at its end) into a new buffer. */
export function copyOut(ring: Uint8Array, at: number, length: number): Uint8Array {
  if (at + length <= ring.length) return ring.slice(at, at + length);
  const out = new Uint8Array(length);
  const first = ring.length - at;
  out.set(ring.subarray(at), 0);
  out.set(ring.subarray(0, length - first), first);
  return out;
}
