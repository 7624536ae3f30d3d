import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from '../futures/errors.js';
import type { FramedSocket } from './frames.js';

const CHALLENGE_BYTES = 32;
const digest = (key: Buffer, challenge: Buffer): Buffer => createHmac('sha256', key).update(challenge).digest();
const same = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/**
 * The server's half of a mutual HMAC challenge, as multiprocessing.connection does it:
 * the client answers our challenge and sends its own; we answer it only if the client
 * proved it knows the key. Nothing from the peer is deserialized before this resolves,
 * and `conn` should accept no frame larger than a handshake's (HANDSHAKE_MAX_BYTES)
 * until then.
 */
export async function authenticateClient(conn: FramedSocket, key: Buffer): Promise<void> {
  const challenge = randomBytes(CHALLENGE_BYTES);
  conn.send(challenge);
  const reply = await conn.next();
  const answer = reply.subarray(0, 32);
  const theirs = reply.subarray(32);
  if (theirs.length !== CHALLENGE_BYTES || !same(answer, digest(key, challenge))) {
    conn.send(Buffer.alloc(0));
    throw new AuthenticationError('a client did not know the authkey');
  }
  conn.send(digest(key, theirs));
}

/** The client's half of `authenticateClient`. */
export async function authenticateServer(conn: FramedSocket, key: Buffer): Promise<void> {
  const challenge = await conn.next();
  const ours = randomBytes(CHALLENGE_BYTES);
  conn.send(Buffer.concat([digest(key, challenge), ours]));
  const answer = await conn.next();
  if (answer.length === 0) throw new AuthenticationError('the server refused the authkey');
  if (!same(answer, digest(key, ours))) throw new AuthenticationError('the server did not prove it knows the authkey');
}
