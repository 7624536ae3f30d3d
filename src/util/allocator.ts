/**
 * Keeps glibc's allocator from handing memory back to the kernel after every large
 * message.
 *
 * Every message between threads is copied into a malloc'd buffer and out of it into
 * a new ArrayBuffer. glibc serves blocks above its mmap threshold (128 KiB at start)
 * with fresh mappings, and trims an arena's free top above twice that threshold, so
 * a worker echoing 1 MiB buffers faulted in some 280 fresh pages per round trip:
 * more than half its time (measured: 380 us per echo, 150 us without the faults).
 * glibc raises both thresholds by itself when a program frees a mapped block larger
 * than the threshold (mallopt(3), "dynamic mmap threshold"), up to 32 MiB and 64 MiB;
 * only the top of that range stops the faults, since a worker's garbage collector
 * frees tens of megabytes of buffers at once. So the first pool allocates one block
 * just under 32 MiB, never touches it (it costs no page), and frees it. The price is
 * glibc's ordinary one after any large free: an arena may keep up to 64 MiB of
 * freed memory for reuse.
 */
import { MessageChannel } from 'node:worker_threads';

const BLOCK = 32 * 1024 * 1024 - 64 * 1024; // a mapped chunk must be at most 32 MiB to move the thresholds
let done = false;

/**
 * Raises glibc's dynamic malloc thresholds to their maximum, once per process (Linux
 * only); resolves once the block is freed.
 */
export function raiseMallocThresholds(): Promise<void> {
  if (done || process.platform !== 'linux') return Promise.resolve();
  done = true;
  // new ArrayBuffer is calloc, which leaves a fresh mapping untouched. Moving the buffer
  // into a channel whose both ends are closed frees it (deterministically, within a
  // turn of the event loop) instead of whenever the garbage collector gets to it.
  const buffer = new ArrayBuffer(BLOCK);
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(buffer, [buffer]);
  const freed = new Promise<void>((resolve) => port2.once('close', resolve));
  port1.close();
  port2.close();
  return freed;
}
