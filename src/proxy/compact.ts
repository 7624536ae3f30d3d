/**
 * The compact form of calls and replies whose values are all primitives (a dict's
 * `get('k')`, its answer `1`): the common case of a container call, written field by
 * field instead of through v8.serialize, which costs a serializer object, a copy and a
 * few microseconds on each side. A frame's body says which form it has by its first
 * byte: v8's serialization always starts with 0xFF, a compact one with COMPACT.
 *
 *   call:  [COMPACT][objectId u32][op: u8 length, latin1][argc u8][value]…
 *   reply: [COMPACT][ok u8][value]
 *   value: as transport/value-codec.ts writes it, with COMPACT_VALUES
 *
 * Anything else (objects, arrays, bigints, long op names, many arguments) takes v8's
 * form. The reader checks every length against the frame, so a malformed frame is an
 * error for that call and nothing more.
 */
import { ValueReader, valueSize, writeValue, type ValueCodecOptions } from '../transport/value-codec.js';

/** The first byte of a compact body. */
export const COMPACT = 0x01;

/** Longest op name and most arguments a compact call carries. */
const MAX_OP = 64;
const MAX_ARGS = 16;

/**
 * What a compact frame carries as values: strings up to 4096 UTF-16 units (v8's copy of
 * a longer one is as good), and no clones (anything else takes v8's form, whole frame).
 */
export const COMPACT_VALUES: ValueCodecOptions = { maxString: 4096, clone: false };

/**
 * Writes the compact call into a buffer that `room(size)` returns (at least `size`
 * bytes, a bound on the body), after `head` bytes it leaves alone: its length (of the
 * body, from `head`) or -1 when the call has no compact form.
 */
export function writeCompactCall(room: (size: number) => Buffer, head: number, objectId: number, op: string, args: unknown[]): number {
  if (op.length > MAX_OP || args.length > MAX_ARGS || !Number.isInteger(objectId) || objectId < 0 || objectId > 0xffffffff) return -1;
  let size = 1 + 4 + 1 + op.length + 1;
  for (let i = 0; i < op.length; i++) if (op.charCodeAt(i) > 0x7f) return -1;
  for (const a of args) {
    const n = valueSize(a, COMPACT_VALUES);
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
  const r = new ValueReader(b, at + 1, end, COMPACT_VALUES);
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
  const n = valueSize(value, COMPACT_VALUES);
  if (n < 0) return undefined;
  const out = Buffer.allocUnsafe(4 + 4 + 2 + n);
  const end = writeValue(out, 10, value);
  out.writeUInt32LE(end - 4, 0);
  out.writeUInt32LE(callId, 4);
  out[8] = COMPACT;
  out[9] = ok;
  return end === out.length ? out : out.subarray(0, end);
}

/** The reply in a compact body (`bytes[at, end)`, starting with COMPACT). */
export function readCompactReply(b: Buffer, at: number, end: number): [ok: 0 | 1, value: unknown] {
  const r = new ValueReader(b, at + 1, end, COMPACT_VALUES);
  const ok = r.u8();
  const value = r.value();
  if (r.at !== end || (ok !== 0 && ok !== 1)) throw new RangeError('a compact reply is malformed');
  return [ok as 0 | 1, value];
}
