// CommonJS: poolifier's cluster workers did not answer from an ES module here.
const { ClusterWorker } = require('poolifier');

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
module.exports = new ClusterWorker({
  inc: (x) => x + 1,
  fib,
});
