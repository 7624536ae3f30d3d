import { QueueShutDown } from '../futures/errors.js';

/** Items from `get` as they come, ending quietly when the queue is shut down and drained. */
export async function* untilShutDown<T>(get: () => Promise<T>): AsyncGenerator<T> {
  for (;;) {
    try {
      yield await get();
    } catch (err) {
      if (err instanceof QueueShutDown) return;
      throw err;
    }
  }
}
