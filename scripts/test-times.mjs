// A reporter for node's test runner (scripts/run-tests.mjs adds it beside TAP): the time
// each top-level test took, with its file, appended as a JSON line to the file named by
// CONCUR_TEST_TIMES as it ends, so that a run can name its slowest files (tests in one
// file run one after another: their sum is close to the file's own time less its
// imports). Appended synchronously, test by test, so that a main pass cut short (killed,
// or its runner gone) still leaves the times of what ran.
import { appendFileSync } from 'node:fs';

export default async function* fileTimes(source) {
  const path = process.env.CONCUR_TEST_TIMES;
  for await (const event of source) {
    if (path && (event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0) {
      appendFileSync(path, `${JSON.stringify({ file: event.data.file ?? '(unknown)', ms: Math.round(event.data.details?.duration_ms ?? 0) })}\n`);
    }
  }
}
