#!/usr/bin/env node
// A Lock of this process acquired and released by a child process through its proxy:
// pairs/s through the child's lane and through its helper thread (CONCUR_PROXY_LANES=0),
// alternated, `rounds` times each; prints each run and the medians. The Lock is made
// without the native part (CONCUR_NO_NATIVE=1), so that it crosses as a proxy rather than
// as shared memory (bench/shm.mjs measures that).
//
//   node bench/proxy-lock.mjs [pairs=20000] [rounds=3]
process.env.CONCUR_NO_NATIVE = '1';
const { Lock, Pipe, Process } = await import('../dist/index.js');
const { managerBench } = await import('./workers/manager-tasks.mjs');

const [N = 20_000, ROUNDS = 3] = process.argv.slice(2).map(Number);
const runs = { lanes: [], helper: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const way of ['lanes', 'helper']) {
    // A child reads the variable when it starts.
    process.env.CONCUR_PROXY_LANES = way === 'lanes' ? '1' : '0';
    const lock = new Lock();
    const [here, there] = Pipe();
    const p = new Process({ target: managerBench.lockPairs, args: [lock, N, there] }).start();
    const rate = await here.recv();
    await p.join();
    runs[way].push(rate);
    console.log(`${way}: ${Math.round(rate).toLocaleString('en-US')} acquire+release pairs/s`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`medians: lanes ${Math.round(median(runs.lanes)).toLocaleString('en-US')}, helper ${Math.round(median(runs.helper)).toLocaleString('en-US')} pairs/s`);
