// Scenario 2, the crawler: fetch pages from a local server and parse each in a done
// callback; the same code on the async, thread and process executors.
import { createServer } from 'node:http';
import { AsyncExecutor, defineTasks, isMain, ProcessPoolExecutor, ThreadPoolExecutor, type Executor, type Future } from 'concur';

export const crawl = defineTasks(import.meta.url, {
  async fetchPage(url: string): Promise<{ url: string; status: number; body: string }> {
    const res = await fetch(url);
    return { url, status: res.status, body: await res.text() };
  },
});

const PAGES = 40;
const pageSize = (n: number): number => 1000 * (n + 1);

if (isMain()) {
  // Each page is n+1 KB and takes 20 ms to answer, as a slow remote server would.
  const server = createServer((req, res) => {
    const n = Number(req.url?.split('/').pop());
    setTimeout(() => res.end('x'.repeat(pageSize(n))), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const urls = Array.from({ length: PAGES }, (_, n) => `http://127.0.0.1:${port}/page/${n}`);

  const executors: Array<[string, () => Executor]> = [
    ['async', () => new AsyncExecutor({ maxConcurrency: 10 })],
    ['thread', () => new ThreadPoolExecutor({ maxWorkers: 4 })],
    ['process', () => new ProcessPoolExecutor({ maxWorkers: 4 })],
  ];
  for (const [name, make] of executors) {
    const executor = make();
    const started = performance.now();
    let bytes = 0;
    let pages = 0;
    // Python's add_done_callback(parse) with f.result() inside: the Future is done, so
    // resultSync() reads it at once (and throws the task's error if it failed).
    const parse = (f: Future<{ url: string; status: number; body: string }>): void => {
      const page = f.resultSync();
      if (page.status === 200) {
        bytes += page.body.length;
        pages++;
      }
    };
    // The same two lines on every executor: submit, and parse when done.
    for (const url of urls) executor.submit(crawl.fetchPage, url).addDoneCallback(parse);
    await executor.shutdown({ wait: true }); // every callback has run by now
    const expected = urls.reduce((sum, _, n) => sum + pageSize(n), 0);
    console.log(`${name.padEnd(7)} ${pages} pages, ${bytes} bytes${bytes === expected ? ' (all)' : ` (expected ${expected})`} in ${Math.round(performance.now() - started)} ms`);
  }
  server.close();
}
