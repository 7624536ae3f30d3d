// A reporter for node's test runner (scripts/run-tests.mjs adds it beside TAP): the time
// each file's top-level tests took, summed, written as JSON lines to the file named by
// CONCUR_TEST_TIMES, so that a run can name its slowest files. Tests in one file run one
// after another, so the sum is close to the file's own time less its imports. Written
// synchronously once the run ends: a reporter's own destination stream was sometimes
// not flushed before the runner exited, and the list came out empty.
import { writeFileSync } from 'node:fs';

export default async function* fileTimes(source) {
  const perFile = new Map();
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0) {
      const file = event.data.file ?? '(unknown)';
      perFile.set(file, (perFile.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
  }
  const path = process.env.CONCUR_TEST_TIMES;
  if (path) writeFileSync(path, [...perFile].map(([file, ms]) => `${JSON.stringify({ file, ms: Math.round(ms) })}\n`).join(''));
}
