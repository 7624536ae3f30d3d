// Task modules are imported by every worker: keep them free of side effects.
import { defineTasks } from 'concur';

export const tasks = defineTasks(import.meta.url, {
  /** Pretends to work for `ms` milliseconds, then squares `n`. */
  async work(n: number, ms: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return n * n;
  },
  fib(n: number): number {
    return n < 2 ? n : tasks.fib(n - 1) + tasks.fib(n - 2);
  },
  /** Fetches a page (the crawler's task, served by Redis workers in redis-crawler.ts). */
  async fetchPage(url: string): Promise<{ url: string; status: number; body: string }> {
    const res = await fetch(url);
    return { url, status: res.status, body: await res.text() };
  },
});
