// multiprocessing.Pool as a Python program uses it: applyAsync then close/join, results
// through AsyncResult.get(), map, and a callback that handles each page in the main
// process as soon as it is crawled. `compare` adds the timing of one Process per task
// against a pool of four.
import { defineTasks, isMain, Pool, Process } from 'concur';

export const crawl = defineTasks(import.meta.url, {
  /** Prints which worker took page i, then pretends to work for 50 ms. */
  async visit(i: number): Promise<void> {
    console.log(`page ${i} visited by pid ${process.pid}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  },
  /** "Crawls" page i after a random delay and returns its size. */
  async crawlPage(i: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 100));
    console.log(`crawled page ${i} in pid ${process.pid}`);
    return 5 * i;
  },
});

if (isMain()) {
  // 1. Twenty tasks on four workers: submit them all, close the pool, wait for it.
  {
    const p = new Pool(4);
    for (let i = 0; i < 20; i++) p.applyAsync(crawl.visit, [i]);
    p.close(); // no more tasks; the submitted ones still run
    await p.join(); // wait until they are done and the workers have exited
    console.log('1. twenty visits done on a pool of 4');
  }

  // 2. Results through AsyncResult.get(), in the order submitted.
  {
    const p = new Pool(5);
    const results = Array.from({ length: 10 }, (_, i) => p.applyAsync(crawl.crawlPage, [i]));
    const sizes: number[] = [];
    for (const r of results) sizes.push(await r.get());
    console.log(`2. sizes in submission order: ${sizes.join(' ')}`);
    p.close();
    await p.join();
  }

  // 3. The same with map: one call, the results as an array in input order.
  {
    await using p = new Pool(5); // leaving the block terminates the pool, as Python's with
    const sizes = await p.map(crawl.crawlPage, Array.from({ length: 10 }, (_, i) => i));
    console.log(`3. map: ${sizes.join(' ')}`);
  }

  // 4. A callback in the main process handles each page as soon as it is ready.
  {
    const p = new Pool(5);
    const handled: number[] = [];
    for (let i = 0; i < 10; i++) {
      p.applyAsync(crawl.crawlPage, [i], { callback: (size) => void handled.push(size) });
    }
    p.close();
    await p.join(); // every callback has run once join returns
    console.log(`4. callbacks handled ${handled.length} pages as they finished: ${handled.join(' ')} (sum ${handled.reduce((a, b) => a + b, 0)})`);
  }

  if (process.argv[2] === 'compare') {
    const n = Number(process.argv[3] ?? 20);
    let t0 = performance.now();
    const procs = Array.from({ length: n }, (_, i) => new Process({ target: crawl.visit, args: [i] }).start());
    for (const proc of procs) await proc.join();
    const perProcess = performance.now() - t0;
    t0 = performance.now();
    const p = new Pool(4);
    for (let i = 0; i < n; i++) p.applyAsync(crawl.visit, [i]);
    p.close();
    await p.join();
    const pooled = performance.now() - t0;
    console.log(`${n} tasks: one Process each ${Math.round(perProcess)} ms, a Pool of 4 ${Math.round(pooled)} ms`);
  }
}
