/**
 * A test seam of the owner's end of a lane (lane-server.ts): answers cut off after their
 * header, as an owner stopped, killed or lying in the middle of one leaves them, at a
 * point a test can count on rather than where a signal happens to land.
 */
import { readFileSync, writeSync } from 'node:fs';

/** Bytes a pipe writes whole (PIPE_BUF): an answer this short reaches the caller in one piece. */
const PIPE_ATOMIC = 4096;

/**
 * A test seam (CONCUR_TEST_LANE_TAIL): an answer over PIPE_ATOMIC bytes by FIFO is cut
 * short, as an owner stopped or lying in the middle of it would leave it. 'stop': its
 * header and first KiB are written, then this process stops itself (SIGSTOP) and
 * writes the rest once it runs again. 'lie': its header claims the frame limit, its
 * body follows, and nothing more. 'huge': its header claims 0xf0000000 bytes (over
 * any limit), and its body follows.
 */
export const tailSeam = process.env.CONCUR_TEST_LANE_TAIL;
/**
 * Stops this process (SIGSTOP) before this thread goes on. The kernel hands a signal
 * sent to the process to its main thread, which stops every other thread once it runs,
 * so this one spins until it has stopped too: until a look at the main thread found it
 * stopped (this thread's own stop is then due at the end of that read), or a look came
 * long after the one before (this thread was stopped in between), or 2 s at most.
 */
function stopHere(): void {
  let last = performance.now();
  const until = last + 2_000;
  process.kill(process.pid, 'SIGSTOP');
  for (;;) {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const state = stat[stat.lastIndexOf(')') + 2];
    const now = performance.now();
    if (state === 'T' || state === 't' || now - last > 200 || now > until) return;
    last = now;
  }
}

/** What is left to write of `framed` once the seam has written its part into the reply FIFO `fd` (above). */
export function cutShort(fd: number, framed: Buffer, maxFrameBytes: number): Buffer {
  if (framed.length <= PIPE_ATOMIC) return framed;
  if (tailSeam === 'stop') {
    const part = 4 + 1024;
    writeSync(fd, framed, 0, part); // an empty pipe takes it whole: the caller read the last answer
    stopHere();
    return framed.subarray(part);
  }
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(tailSeam === 'lie' ? maxFrameBytes : 0xf0000000, 0);
  writeSync(fd, head);
  try {
    writeSync(fd, framed, 4); // as much of the body as the pipe takes
  } catch {
    // a full pipe: the lie is the header alone
  }
  return framed.subarray(framed.length);
}
