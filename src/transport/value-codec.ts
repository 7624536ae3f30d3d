/**
 * Values as bytes, for the lanes that carry values outside a structured-clone channel:
 * the Pipe ring between processes (processes/relay-endpoint.ts) and the compact frames
 * of the Manager's proxy lanes (proxy/compact.ts). The primitives most messages are go
 * as a one-byte tag and their raw bytes; v8.serialize plus deserialize costs ~1.2 us
 * even for a small integer, as much as the rest of a trip.
 *
 *   value: [tag u8] then nothing (undefined, null, false, true), a float64 (LE), a
 *          string (u32 byte length, UTF-8), or a clone (u32 byte length, v8.serialize's
 *          bytes)
 *
 * What a caller lets through is its ValueCodecOptions: how long a string may be, and
 * whether what has no form of its own (objects, bigints, a string UTF-8 cannot carry)
 * is cloned or refused. Both ends of a lane are the same concur, so the format has no
 * version. The reader checks every length against its end, so malformed bytes are a
 * RangeError or TypeError (or v8's error, inside a clone), never another value.
 */
import { deserialize, serialize } from 'node:v8';
import { sendingData } from '../sync/views.js';

const UNDEFINED = 0;
const NULL = 1;
const FALSE = 2;
const TRUE = 3;
const FLOAT64 = 4;
const STRING = 5;
const CLONED = 6;

/** What one caller writes as itself, and what it does with the rest. */
export interface ValueCodecOptions {
  /** Longest string (in UTF-16 units) written as UTF-8; a longer one has no form of its own. */
  readonly maxString: number;
  /** Whether a value with no form of its own is written as a structured clone (else refused). */
  readonly clone: boolean;
}

/** Whether `s` has no lone surrogate (which UTF-8 would turn into U+FFFD). */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * Bytes `value` takes at most in its own form (not cloned), or -1 if it has none: it is
 * not a primitive this codec writes, or a string over `options.maxString` or with a lone
 * surrogate. A string is bounded by 3 bytes a UTF-16 unit rather than measured: a
 * buffer that size holds it, and writeValue says how much it took.
 */
export function valueSize(value: unknown, options: ValueCodecOptions): number {
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
      return 1;
    case 'number':
      return 9;
    case 'string':
      // UTF-8 would turn a lone surrogate into U+FFFD: such a string is cloned or refused, never written so.
      return value.length > options.maxString || !wellFormed(value) ? -1 : 5 + 3 * value.length;
    case 'object':
      return value === null ? 1 : -1;
    default:
      return -1;
  }
}

/**
 * Writes `value`, which valueSize accepted, at `out[at]` (the caller saw to the room:
 * valueSize's bytes, or a string's exact UTF-8 length plus 5); returns the offset after it.
 */
export function writeValue(out: Buffer, at: number, value: unknown): number {
  switch (typeof value) {
    case 'undefined':
      out[at] = UNDEFINED;
      return at + 1;
    case 'boolean':
      out[at] = value ? TRUE : FALSE;
      return at + 1;
    case 'number':
      out[at] = FLOAT64;
      out.writeDoubleLE(value, at + 1);
      return at + 9;
    case 'string': {
      out[at] = STRING;
      const n = out.write(value, at + 5, 'utf8');
      out.writeUInt32LE(n, at + 1);
      return at + 5 + n;
    }
    default:
      out[at] = NULL;
      return at + 1;
  }
}

/**
 * Writes `value` into `out` from `offset`, in its own form or, when it has none and
 * `options.clone`, as a clone; returns the bytes written, or -1 if it is refused or `out`
 * has no room (either way the caller sends it another way).
 */
export function encodeValue(value: unknown, out: Buffer, offset: number, options: ValueCodecOptions): number {
  const size = valueSize(value, options);
  if (size >= 0) {
    // A string over its bound may still fit: measured only then.
    if (offset + size > out.length && (typeof value !== 'string' || offset + 5 + Buffer.byteLength(value, 'utf8') > out.length)) return -1;
    return writeValue(out, offset, value) - offset;
  }
  if (!options.clone) return -1;
  const bytes = sendingData(value, serialize);
  if (offset + 5 + bytes.length > out.length) return -1;
  out[offset] = CLONED;
  out.writeUInt32LE(bytes.length, offset + 1);
  bytes.copy(out, offset + 5);
  return 5 + bytes.length;
}

/** Reads back the value `encodeValue` wrote as `length` bytes from `offset`; the result shares no memory with `bytes`. */
export function decodeValue(bytes: Buffer, offset: number, length: number, options: ValueCodecOptions): unknown {
  const r = new ValueReader(bytes, offset, offset + length, options);
  const value = r.value();
  if (r.at !== offset + length) throw new RangeError('a value has bytes after it');
  return value;
}

/** A cursor over bytes holding values: every read checks it stays before `end`. */
export class ValueReader {
  constructor(
    readonly b: Buffer,
    public at: number,
    readonly end: number,
    readonly options: ValueCodecOptions,
  ) {}

  /** Steps over `n` bytes; returns where they start. */
  need(n: number): number {
    const at = this.at;
    if (at + n > this.end) throw new RangeError('the bytes end early');
    this.at = at + n;
    return at;
  }

  /** The next byte. */
  u8(): number {
    return this.b[this.need(1)]!;
  }

  /** The next value (a clone only if the options allow clones). */
  value(): unknown {
    const tag = this.u8();
    const b = this.b;
    switch (tag) {
      case UNDEFINED:
        return undefined;
      case NULL:
        return null;
      case FALSE:
        return false;
      case TRUE:
        return true;
      case FLOAT64:
        return b.readDoubleLE(this.need(8));
      case STRING: {
        const n = b.readUInt32LE(this.need(4));
        const at = this.need(n);
        return b.toString('utf8', at, at + n);
      }
      case CLONED: {
        if (!this.options.clone) break;
        const n = b.readUInt32LE(this.need(4));
        const at = this.need(n);
        // A copy: v8.deserialize makes typed arrays views of the bytes it reads, and the
        // caller reuses its buffer.
        return deserialize(Buffer.from(b.subarray(at, at + n)));
      }
    }
    throw new TypeError(`a value has an unknown tag ${tag}`);
  }
}
