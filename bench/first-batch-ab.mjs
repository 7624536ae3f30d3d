// Runs bench/first-batch.mjs for several checkouts side by side: N rounds, each a fresh
// process per checkout, their order alternating; prints the median of every figure and
// the median of the paired ratio of first-batch throughput to the first checkout's.
//
//   node bench/first-batch-ab.mjs 9 main=/work/main this=.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const [rounds, ...specs] = process.argv.slice(2);
const script = fileURLToPath(new URL('./first-batch.mjs', import.meta.url));
const variants = specs.map((s) => s.split('='));
const rows = Object.fromEntries(variants.map(([label]) => [label, []]));
for (let i = 0; i < Number(rounds); i++) {
  for (const [label, root] of i % 2 ? [...variants].reverse() : variants) {
    const out = execFileSync(process.execPath, [script, root], { encoding: 'utf8' });
    rows[label].push(JSON.parse(out.trim().split('\n').pop()));
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const [first] = variants[0];
console.log(['figure', ...variants.map(([label]) => label)].join('\t'));
for (const key of Object.keys(rows[first][0])) console.log([key, ...variants.map(([label]) => median(rows[label].map((r) => r[key])).toFixed(2))].join('\t'));
for (const [label] of variants.slice(1)) {
  console.log(`${label} / ${first}, first batch tasks/s (median of paired ratios): ${median(rows[label].map((r, i) => r.tasksPerSec / rows[first][i].tasksPerSec)).toFixed(3)}`);
}
console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
