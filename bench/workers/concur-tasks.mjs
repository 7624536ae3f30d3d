import { defineTasks, transfer } from '../../dist/index.js';

// The same plain functions every peer runs (see piscina-worker.mjs).
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export const tasks = defineTasks(import.meta.url, {
  inc: (x) => x + 1,
  fib,
  echo: (buf) => buf,
  echoMoved: (buf) => transfer(buf, [buf]),
});
