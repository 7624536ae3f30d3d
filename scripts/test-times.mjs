// A reporter for node's test runner (scripts/run-tests.mjs adds it beside TAP): the time
// each file's top-level tests took, summed, as JSON lines, so that a run can name its
// slowest files. Tests in one file run one after another, so the sum is close to the
// file's own time less its imports.
export default async function* fileTimes(source) {
  const perFile = new Map();
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0) {
      const file = event.data.file ?? '(unknown)';
      perFile.set(file, (perFile.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
  }
  for (const [file, ms] of perFile) yield `${JSON.stringify({ file, ms: Math.round(ms) })}\n`;
}
