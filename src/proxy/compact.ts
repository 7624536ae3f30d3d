/**
 * The compact form of calls and replies whose values are all primitives (a dict's
 * `get('k')`, its answer `1`): the common case of a container call, written field by
 * field instead of through v8.serialize, which costs a serializer object, a copy and a
 * few microseconds on each side. A frame's body says which form it has by its first
 * byte: v8's serialization always starts with 0xFF, a compact one with COMPACT.
 *
 *   call:  [COMPACT][objectId u32][op: u8 length, latin1][argc u8][value]…
 *   reply: [COMPACT][ok u8][value]
 *   value: [tag u8] then nothing (undefined, null, false, true), an int32, a float64,
 *          or a string (u32 byte length, UTF-8)
 *
 * Anything else (objects, arrays, bigints, long op names, many arguments) takes v8's
 * form. The reader checks every length against the frame, so a malformed frame is an
 * error for that call and nothing more.
 */

/** The first byte of a compact body. */
export const COMPACT = 0x01;

const UNDEFINED = 0;
const NULL = 1;
const FALSE = 2;
const TRUE = 3;
const INT32 = 4;
const FLOAT64 = 5;
const STRING = 6;

/** Longest op name and most arguments a compact call carries. */
const MAX_OP = 64;
const MAX_ARGS = 16;
/** Strings longer than this (in UTF-16 units) go through v8, whose copy is as good. */
const MAX_STRING = 4096;

const SURROGATE = /[\uD800-\uDFFF]/;

/** Bytes `value` takes in compact form, or -1 if it has none. */
function valueSize(value: unknown): number {
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
      return 1;
    case 'number':
      return (value | 0) === value && !Object.is(value, -0) ? 5 : 9;
    case 'string':
      // UTF-8 would turn a lone surrogate into U+FFFD: such a string goes through v8, as it is.
      return value.length > MAX_STRING || SURROGATE.test(value) ? -1 : 5 + Buffer.byteLength(value, 'utf8');
    case 'object':
      return value === null ? 1 : -1;
    default:
      return -1;
  }
}

function writeValue(out: Buffer, at: number, value: unknown): number {
  switch (typeof value) {
    case 'undefined':
      out[at] = UNDEFINED;
      return at + 1;
    case 'boolean':
      out[at] = value ? TRUE : FALSE;
      return at + 1;
    case 'number':
      if ((value | 0) === value && !Object.is(value, -0)) {
        out[at] = INT32;
        out.writeInt32LE(value, at + 1);
        return at + 5;
      }
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

/** A cursor over a compact body: every read checks it stays inside. */
class Reader {
  constructor(
    readonly b: Buffer,
    public at: number,
    readonly end: number,
  ) {}

  need(n: number): number {
    const at = this.at;
    if (at + n > this.end) throw new RangeError('a compact frame ends early');
    this.at = at + n;
    return at;
  }

  u8(): number {
    return this.b[this.need(1)]!;
  }

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
      case INT32:
        return b.readInt32LE(this.need(4));
      case FLOAT64:
        return b.readDoubleLE(this.need(8));
      case STRING: {
        const n = b.readUInt32LE(this.need(4));
        const at = this.need(n);
        return b.toString('utf8', at, at + n);
      }
      default:
        throw new TypeError(`a compact frame has an unknown value tag ${tag}`);
    }
  }
}

/**
 * Writes the compact call into a buffer that `room(size)` returns (at least `size`
 * bytes), after `head` bytes it leaves alone: its length (of the body, from `head`)
 * or -1 when the call has no compact form.
 */
export function writeCompactCall(room: (size: number) => Buffer, head: number, objectId: number, op: string, args: unknown[]): number {
  if (op.length > MAX_OP || args.length > MAX_ARGS || !Number.isInteger(objectId) || objectId < 0 || objectId > 0xffffffff) return -1;
  let size = 1 + 4 + 1 + op.length + 1;
  for (let i = 0; i < op.length; i++) if (op.charCodeAt(i) > 0x7f) return -1;
  for (const a of args) {
    const n = valueSize(a);
    if (n < 0) return -1;
    size += n;
  }
  const out = room(head + size);
  let at = head;
  out[at++] = COMPACT;
  out.writeUInt32LE(objectId, at);
  at += 4;
  out[at++] = op.length;
  at += out.write(op, at, 'latin1');
  out[at++] = args.length;
  for (const a of args) at = writeValue(out, at, a);
  return at - head;
}

/** The call in a compact body (`bytes[at, end)`, starting with COMPACT). */
export function readCompactCall(b: Buffer, at: number, end: number): [objectId: number, op: string, args: unknown[]] {
  const r = new Reader(b, at + 1, end);
  const objectId = b.readUInt32LE(r.need(4));
  const opLength = r.u8();
  const opAt = r.need(opLength);
  const op = b.toString('latin1', opAt, opAt + opLength);
  const argc = r.u8();
  if (argc > MAX_ARGS) throw new RangeError(`a compact call has ${argc} arguments, over ${MAX_ARGS}`);
  const args: unknown[] = [];
  for (let i = 0; i < argc; i++) args.push(r.value());
  if (r.at !== end) throw new RangeError('a compact call has bytes after its arguments');
  return [objectId, op, args];
}

/** The compact reply frame (length prefix, call id, body) to `callId`, or undefined when `value` has no compact form. */
export function compactReplyFrame(callId: number, ok: 0 | 1, value: unknown): Buffer | undefined {
  const n = valueSize(value);
  if (n < 0) return undefined;
  const out = Buffer.allocUnsafe(4 + 4 + 2 + n);
  out.writeUInt32LE(4 + 2 + n, 0);
  out.writeUInt32LE(callId, 4);
  out[8] = COMPACT;
  out[9] = ok;
  writeValue(out, 10, value);
  return out;
}

/** The reply in a compact body (`bytes[at, end)`, starting with COMPACT). */
export function readCompactReply(b: Buffer, at: number, end: number): [ok: 0 | 1, value: unknown] {
  const r = new Reader(b, at + 1, end);
  const ok = r.u8();
  const value = r.value();
  if (r.at !== end || (ok !== 0 && ok !== 1)) throw new RangeError('a compact reply is malformed');
  return [ok as 0 | 1, value];
}
