import workerpool from 'workerpool';

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
workerpool.worker({
  inc: (x) => x + 1,
  fib,
  echo: (buf) => buf,
  echoMoved: (buf) => new workerpool.Transfer(buf, [buf]),
});
