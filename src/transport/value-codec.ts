/**
 * Values as bytes for the shared-file Pipe lane: the primitives most messages are
 * (numbers, strings, booleans, null, undefined) by a one-byte tag and their raw bytes,
 * everything else by the structured-clone serializer. v8.serialize plus deserialize
 * costs ~1.2 us even for a small integer, as much as the rest of a trip.
 */
import { deserialize, serialize } from 'node:v8';

const UNDEFINED = 0;
const NULL = 1;
const TRUE = 2;
const FALSE = 3;
const NUMBER = 4;
const STRING = 5;
const CLONED = 6;

/**
 * Writes `value` into `out` from `offset`; returns the bytes written, or -1 if `out`
 * has no room (the caller sends the value another way).
 */
export function encodeValue(value: unknown, out: Buffer, offset: number): number {
  const room = out.length - offset;
  if (room < 9) return -1;
  switch (typeof value) {
    case 'number':
      out[offset] = NUMBER;
      out.writeDoubleLE(value, offset + 1);
      return 9;
    case 'boolean':
      out[offset] = value ? TRUE : FALSE;
      return 1;
    case 'undefined':
      out[offset] = UNDEFINED;
      return 1;
    case 'string': {
      // UTF-8 would turn a lone surrogate into U+FFFD: such a string is cloned, as it is.
      if (!(value as unknown as { isWellFormed(): boolean }).isWellFormed()) return cloned(value, out, offset, room);
      // At most 3 bytes per UTF-16 unit; longer strings are measured first.
      if (value.length * 3 + 1 > room && Buffer.byteLength(value) + 1 > room) return -1;
      out[offset] = STRING;
      return 1 + out.write(value, offset + 1, 'utf8');
    }
    default: {
      if (value === null) {
        out[offset] = NULL;
        return 1;
      }
      return cloned(value, out, offset, room);
    }
  }
}

function cloned(value: unknown, out: Buffer, offset: number, room: number): number {
  const bytes = serialize(value);
  if (bytes.length + 1 > room) return -1;
  out[offset] = CLONED;
  bytes.copy(out, offset + 1);
  return 1 + bytes.length;
}

/** Reads back a value `encodeValue` wrote as `length` bytes from `offset`; the result shares no memory with `bytes`. */
export function decodeValue(bytes: Buffer, offset: number, length: number): unknown {
  switch (bytes[offset]) {
    case NUMBER:
      return bytes.readDoubleLE(offset + 1);
    case STRING:
      return bytes.toString('utf8', offset + 1, offset + length);
    case TRUE:
      return true;
    case FALSE:
      return false;
    case NULL:
      return null;
    case UNDEFINED:
      return undefined;
    case CLONED:
      // A copy: v8.deserialize makes typed arrays views of the bytes it reads, and the
      // caller reuses its buffer.
      return deserialize(Buffer.from(bytes.subarray(offset + 1, offset + length)));
    default:
      throw new Error(`internal: unknown value tag ${bytes[offset]}`);
  }
}
