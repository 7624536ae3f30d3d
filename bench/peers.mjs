// One adapter per pool, so every workload drives each the same way, with each
// library's own defaults apart from the worker count.
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export const PEERS = ['concur', 'piscina', 'tinypool', 'workerpool'];

/** Returns { call(name, arg), callMoved(name, buf), close() } for `peer` with `workers` threads. */
export async function createPool(peer, workers) {
  switch (peer) {
    case 'concur': {
      const { ThreadPoolExecutor } = await import('../dist/index.js');
      const { tasks } = await import('./workers/concur-tasks.mjs');
      const pool = new ThreadPoolExecutor({ maxWorkers: workers });
      return {
        call: (name, arg) => pool.submit(tasks[name], arg),
        callMoved: (name, buf) => pool.submitWith({ transfer: [buf] }, tasks[name], buf),
        close: () => pool.shutdown(),
      };
    }
    case 'piscina': {
      const { Piscina } = await import('piscina');
      const pool = new Piscina({ filename: here('./workers/piscina-worker.mjs'), minThreads: workers, maxThreads: workers });
      return {
        call: (name, arg) => pool.run(arg, { name }),
        callMoved: (name, buf) => pool.run(buf, { name, transferList: [buf] }),
        close: () => pool.destroy(),
      };
    }
    case 'tinypool': {
      const { Tinypool } = await import('tinypool');
      const pool = new Tinypool({ filename: here('./workers/tinypool-worker.mjs'), minThreads: workers, maxThreads: workers });
      return {
        call: (name, arg) => pool.run(arg, { name }),
        callMoved: (name, buf) => pool.run(buf, { name, transferList: [buf] }),
        close: () => pool.destroy(),
      };
    }
    case 'workerpool': {
      const { default: workerpool } = await import('workerpool');
      const pool = workerpool.pool(here('./workers/workerpool-worker.mjs'), { minWorkers: workers, maxWorkers: workers, workerType: 'thread' });
      return {
        call: (name, arg) => pool.exec(name, [arg]),
        callMoved: (name, buf) => pool.exec(name, [buf], { transfer: [buf] }),
        close: () => pool.terminate(),
      };
    }
    default:
      throw new Error(`unknown peer ${peer}`);
  }
}
