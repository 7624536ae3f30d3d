/**
 * The handshake of every proxy connection: a mutual HMAC challenge, as
 * multiprocessing.connection does it, that also carries each side's protocol version,
 * so two concurs that would misread each other's frames stop here, by name:
 *
 *   server ── "concur" u16 version, 32 random bytes ───────────────────► client
 *            (a version other than its own: the client stops, naming both)
 *   server ◄── HMAC(key, whole greeting), 32 random bytes, u16 version ── client
 *            (a wrong HMAC or another version: refused with an empty frame)
 *   server ── HMAC(key, client's 32 bytes) ────────────────────────────► client
 */
import { crypto } from '../util/lazy-builtin.js';
import { AuthenticationError } from '../futures/errors.js';
import type { FramedSocket } from './frames.js';

/**
 * The version of the proxy protocol (handshake, frames, call and reply layout) this
 * concur speaks. Bumped whenever a peer of the previous version would misread it.
 * (Version 1 carried no version in its handshake.)
 */
export const PROXY_PROTOCOL = 2;

const MAGIC = Buffer.from('concur', 'latin1');
const CHALLENGE_BYTES = 32;
const GREETING_BYTES = MAGIC.length + 2 + CHALLENGE_BYTES;
const REPLY_BYTES = 32 + CHALLENGE_BYTES + 2;
const digest = (key: Buffer, challenge: Buffer): Buffer => crypto().createHmac('sha256', key).update(challenge).digest();
const same = (a: Buffer, b: Buffer): boolean => a.length === b.length && crypto().timingSafeEqual(a, b);

/**
 * The error for a peer that speaks another version of the proxy protocol: an
 * AuthenticationError (so nothing tries again) whose `peerVersion` is the peer's (1 for
 * a concur from before versions were exchanged, undefined if it is not concur at all).
 */
export function protocolVersionError(theirs: number | undefined, who = 'the server'): AuthenticationError & { peerVersion: number | undefined } {
  const what = theirs === undefined ? 'does not speak the concur proxy protocol' : `speaks concur proxy protocol version ${theirs}${theirs === 1 ? ' (a concur from before versions were exchanged)' : ''}`;
  const err = new AuthenticationError(`${who} ${what}; this process speaks version ${PROXY_PROTOCOL}: use the same concur version on both sides`);
  return Object.assign(err, { peerVersion: theirs });
}

/** Whether `err` is a `protocolVersionError`. */
export const isProtocolVersionError = (err: unknown): boolean => err instanceof AuthenticationError && 'peerVersion' in err;

/** The server's first frame: magic, its version, then `challenge` (exported for tests that play a server). */
export function greeting(challenge: Buffer = crypto().randomBytes(CHALLENGE_BYTES), version = PROXY_PROTOCOL): Buffer {
  const v = Buffer.alloc(2);
  v.writeUInt16LE(version, 0);
  return Buffer.concat([MAGIC, v, challenge]);
}

/** The version a greeting announces: 1 for a bare challenge (a concur from before versions), undefined for anything else. */
function versionOf(frame: Buffer): number | undefined {
  if (frame.length === GREETING_BYTES && frame.subarray(0, MAGIC.length).equals(MAGIC)) return frame.readUInt16LE(MAGIC.length);
  return frame.length === CHALLENGE_BYTES ? 1 : undefined;
}

/**
 * The server's half: the client answers our greeting and sends its own challenge and
 * version; we answer it only if it proved it knows the key and speaks our version.
 * Nothing from the peer is deserialized before this resolves, and `conn` should accept
 * no frame larger than a handshake's (HANDSHAKE_MAX_BYTES) until then.
 */
export async function authenticateClient(conn: FramedSocket, key: Buffer): Promise<void> {
  const hello = greeting();
  conn.send(hello);
  const reply = await conn.next();
  const answer = reply.subarray(0, 32);
  const theirs = reply.subarray(32, 32 + CHALLENGE_BYTES);
  if (reply.length !== REPLY_BYTES || !same(answer, digest(key, hello))) {
    conn.send(Buffer.alloc(0));
    throw new AuthenticationError('a client did not know the authkey');
  }
  const version = reply.readUInt16LE(32 + CHALLENGE_BYTES);
  if (version !== PROXY_PROTOCOL) {
    conn.send(Buffer.alloc(0));
    throw protocolVersionError(version, 'a client');
  }
  conn.send(digest(key, theirs));
}

/** The client's half of `authenticateClient`; `who` names the server in errors. */
export async function authenticateServer(conn: FramedSocket, key: Buffer, who = 'the server'): Promise<void> {
  const hello = await conn.next();
  const version = versionOf(hello);
  if (version !== PROXY_PROTOCOL) throw protocolVersionError(version, who);
  const ours = crypto().randomBytes(CHALLENGE_BYTES);
  const v = Buffer.alloc(2);
  v.writeUInt16LE(PROXY_PROTOCOL, 0);
  conn.send(Buffer.concat([digest(key, hello), ours, v]));
  const answer = await conn.next();
  if (answer.length === 0) throw new AuthenticationError(`${who} refused the authkey`);
  if (!same(answer, digest(key, ours))) throw new AuthenticationError(`${who} did not prove it knows the authkey`);
}
