// Shared by piscina and tinypool: both pick an export by `name`.
import { move } from 'piscina';

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
export const inc = (x) => x + 1;
export { fib };
export const echo = (buf) => buf;
export const echoMoved = (buf) => move(buf);
export default inc;
