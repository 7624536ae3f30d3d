// Starts a worker process for the Redis benchmarks and resolves once it printed its ready line.
import { spawn } from 'node:child_process';

/** Spawns `node args…` with CONCUR_KEY=`key`; resolves with the child once its stdout matches `ready`. */
export function startWorker(args, ready, key) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CONCUR_KEY: key } });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      if (ready.test(out)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
  });
}
