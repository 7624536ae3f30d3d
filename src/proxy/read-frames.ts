/**
 * How a broker hands a connection's frames to its handler: in order, and no faster
 * than the peer reads its answers.
 */
import { Deque } from '../util/deque.js';

/** Bytes of answers waiting for a peer to read them before its further calls wait too. */
export const ANSWERS_BUFFERED_MAX = 4 << 20;

/** Where a connection's frames come from: its FramedSocket (or a lane's). */
export interface FrameInput {
  onFrame(handler: (frame: Buffer) => void): void;
}

/** The socket a connection's frames are read from: paused while its calls wait. */
export interface FrameSource {
  pause(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
}

/** The socket a connection's answers are written to. */
export interface AnswerOutput {
  readonly writableLength: number;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Longest one connection's calls run at a stretch before the loop goes round. libuv
 * reads up to 32 x 64 KiB from a ready socket in one go and FramedSocket hands over
 * every frame in it: a flood's 50,000 small calls, which ran for 22 s at a stretch at
 * load 17 while the other connections' pings waited unread, until their clients took
 * the owner for dead (they cannot tell a stalled owner from a vanished one).
 */
export const SLICE_MS = 10;
/** Calls run before the clock is read: a slice is SLICE_MS after as many calls as this. */
const UNMETERED = 32;

/**
 * Hands `input`'s frames to `handle`, in order, SLICE_MS of them at a time: past that
 * in one turn of the loop, the rest wait (those of the chunk already read) and no more
 * are read until the loop has gone round, reading the other connections' calls. A peer
 * that calls without reading its answers: past ANSWERS_BUFFERED_MAX of them, its calls
 * wait the same way until the answers drain, so what waits for it stays bounded. Calls
 * still waiting when their connection closes are dropped, as its unread ones are.
 */
export function readFrames(input: FrameInput, source: FrameSource, output: AnswerOutput, handle: (bytes: Buffer) => void): void {
  const held = new Deque<Buffer>();
  const full = (): boolean => output.writableLength > ANSWERS_BUFFERED_MAX;
  // When this turn's slice ends; undefined until UNMETERED calls have run since the last
  // slice (most turns run one call, and pay neither a clock read nor a setImmediate).
  let sliceEnds: number | undefined;
  let unmetered = 0;
  const spent = (): boolean => {
    if (sliceEnds === undefined) {
      if (++unmetered < UNMETERED) return false;
      // Counted across turns too, so a slice may start early: its rest then waits a turn sooner.
      unmetered = 0;
      sliceEnds = performance.now() + SLICE_MS;
      setImmediate(() => (sliceEnds = undefined));
      return false;
    }
    return performance.now() >= sliceEnds;
  };
  const wait = (): void => {
    if (full()) output.once('drain', release);
    else setImmediate(release);
  };
  const release = (): void => {
    if (source.destroyed) return;
    while (held.length > 0 && !full() && !spent()) {
      handle(held.shift()!);
      if (source.destroyed) return;
    }
    if (held.length > 0) wait();
    else source.resume();
  };
  input.onFrame((bytes) => {
    if (held.length === 0 && !full() && !spent()) return handle(bytes);
    held.push(bytes);
    if (held.length === 1) {
      source.pause();
      wait();
    }
  });
}
