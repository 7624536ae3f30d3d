// Process pools side by side: concur, workerpool's process mode, poolifier's cluster pool.
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export const PROCESS_PEERS = ['concur', 'workerpool', 'poolifier'];

/** Returns { call(name, arg), close() } for `peer` with `workers` processes. */
export async function createProcessPool(peer, workers) {
  switch (peer) {
    case 'concur': {
      const { ProcessPoolExecutor } = await import('../dist/index.js');
      const { tasks } = await import('./workers/concur-tasks.mjs');
      const pool = new ProcessPoolExecutor({ maxWorkers: workers });
      return { call: (name, arg) => pool.submit(tasks[name], arg), close: () => pool.shutdown(), pool, tasks };
    }
    case 'workerpool': {
      const { default: workerpool } = await import('workerpool');
      const pool = workerpool.pool(here('./workers/workerpool-worker.mjs'), { minWorkers: workers, maxWorkers: workers, workerType: 'process' });
      return { call: (name, arg) => pool.exec(name, [arg]), close: () => pool.terminate() };
    }
    case 'poolifier': {
      const { FixedClusterPool } = await import('poolifier');
      const pool = new FixedClusterPool(workers, here('./workers/poolifier-worker.cjs'), { errorHandler: (e) => console.error(e) });
      return { call: (name, arg) => pool.execute(arg, name), close: () => pool.destroy() };
    }
    default:
      throw new Error(`unknown peer ${peer}`);
  }
}
