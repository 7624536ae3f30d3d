import { Tinypool } from 'tinypool';

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
export const inc = (x) => x + 1;
export { fib };
export const echo = (buf) => buf;

export const echoMoved = (buf) => Tinypool.move(buf);
export default inc;
