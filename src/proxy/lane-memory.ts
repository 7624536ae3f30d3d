/**
 * A lane's shared memory: where its calls and answers go when both sides can map a
 * region (the native part is built), so that a call between two busy processes makes
 * no system call at all. The FIFOs stay, as doorbells for a side that sleeps and as
 * the way for a frame too large for the memory (and for an owner that is gone: EOF).
 *
 *   caller                               words                             owner
 *   request bytes ─► REQUEST area, REQ_SEQ++ ─┐
 *      SERVER_AWAKE is 0? ring ─► request FIFO (an empty frame)
 *                                             └─► polling (or woken by the ring):
 *                                                 copy the call out, serve it
 *   spin on REP_SEQ, then CLIENT_IDLE = 1 ◄─ answer into REPLY area, REP_SEQ++
 *      and block reading the reply FIFO  ◄─ CLIENT_IDLE was 1? take it, ring
 *
 * Each side announces that it sleeps (SERVER_AWAKE = 0, CLIENT_IDLE = 1) and then looks
 * once more for work; the other publishes work and then looks at that word. Both with
 * sequentially consistent atomics, so at least one of them sees the other: either the
 * sleeper finds the work, or the publisher rings. A ring that comes after its work was
 * found is an empty frame, skipped. The owner reads rings as they come, on its event
 * loop; toward the caller only whoever changes CLIENT_IDLE from 1 to 0 rings, and the
 * caller reads a ring it was owed at once, so its reply FIFO is empty between calls.
 */

/** Int32 words at the start of the memory. */
export const REQ_SEQ = 0;
export const REP_SEQ = 1;
/** 1 while the owner polls this lane (a call needs no ring); 0, as made, while it sleeps. */
export const SERVER_AWAKE = 2;
/** 1 while the caller blocks in a read of the reply FIFO (an answer needs a ring). */
export const CLIENT_IDLE = 3;
export const REQ_LEN = 4;
/** The answer's length, or BY_FIFO: the answer comes whole through the reply FIFO. */
export const REP_LEN = 5;
export const BY_FIFO = -1;
const HEADER_BYTES = 64;
/** Bytes of a call, or of an answer, that fit in the memory (larger ones go by FIFO). */
export const AREA_BYTES = 16 * 1024;
/** The whole memory of one lane. */
export const LANE_BYTES = HEADER_BYTES + 2 * AREA_BYTES;

/** The views over one lane's memory. */
export interface LaneMemory {
  readonly words: Int32Array;
  readonly request: Uint8Array;
  readonly reply: Uint8Array;
}

/** The views over `bytes` (LANE_BYTES of a region, 8-aligned). */
export function laneMemory(bytes: Uint8Array): LaneMemory {
  if (bytes.length !== LANE_BYTES || bytes.byteOffset % 8 !== 0) throw new RangeError(`a lane's memory is ${LANE_BYTES} aligned bytes, not ${bytes.length}`);
  const at = bytes.byteOffset;
  return {
    words: new Int32Array(bytes.buffer, at, HEADER_BYTES / 4),
    request: new Uint8Array(bytes.buffer, at + HEADER_BYTES, AREA_BYTES),
    reply: new Uint8Array(bytes.buffer, at + HEADER_BYTES + AREA_BYTES, AREA_BYTES),
  };
}

/** The empty frame that rings a doorbell (a real frame always holds at least a call id). */
export const RING = Buffer.alloc(4);
