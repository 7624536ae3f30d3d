// Python's coroutine lessons in plain TypeScript: the yield producer/consumer (c.send(n)),
// greenlet's switch() between two functions, and gevent.joinall as async functions on the
// event loop. Run with a delay in ms (default 0) to see the consumer's and greenlets'
// pauses: `npx tsx examples/generators.ts 300`.
import { gather, sleep, sleepSync } from 'concur';

const delay = Number(process.argv[2] ?? 0);

// 1. Producer and consumer in one thread, no lock: the consumer is a generator. Python's
//    `n = yield r` is `const n = yield r`; `c.send(n)` is `c.next(n)`; `next(c)` is the
//    first `c.next()`; `c.close()` is `c.return()`.
function* consumer(): Generator<string, void, number | undefined> {
  let r = '';
  for (;;) {
    const n = yield r;
    if (!n) return;
    console.log(`[CONSUMER] ←← Consuming ${n}...`);
    sleepSync(delay); // time.sleep(1): blocks the one thread, as it does in Python
    r = '200 OK';
  }
}

function produce(c: Generator<string, void, number | undefined>): void {
  c.next(); // start the generator: it runs to its first yield
  let n = 0;
  while (n < 5) {
    n += 1;
    console.log(`[PRODUCER] →→ Producing ${n}...`);
    const cr = c.next(n).value; // c.send(n): resume the consumer with n, get what it yields back
    console.log(`[PRODUCER] Consumer return: ${cr}`);
  }
  c.return(); // c.close()
}

produce(consumer());

// 2. greenlet: each function switches to the other by name. A generator cannot jump into
//    another generator, so each yields the name of the one to switch to and a
//    three-line loop does the switching. As with greenlet, when one finishes, control
//    goes back to the caller (here: the loop ends), even if the other could go on.
type Greenlet = Generator<string, void, void>;

function switchBetween(greenlets: Record<string, () => Greenlet>, first: string): void {
  const started = new Map<string, Greenlet>();
  const get = (name: string): Greenlet => started.get(name) ?? started.set(name, greenlets[name]!()).get(name)!;
  for (let step = get(first).next(); !step.done; ) step = get(step.value).next();
}

switchBetween(
  {
    *test1() {
      console.log(12);
      yield 'test2'; // gr2.switch()
      console.log(34);
      yield 'test2';
    },
    *test2() {
      console.log(56);
      yield 'test1'; // gr1.switch()
      console.log(78);
    },
  },
  'test1',
);

// The same with loops: foo and bar take turns ten times each.
switchBetween(
  {
    *foo() {
      for (let i = 0; i < 10; i++) {
        console.log(`foo: ${i}`);
        sleepSync(Math.random() * delay);
        yield 'bar';
      }
    },
    *bar() {
      for (let i = 0; i < 10; i++) {
        console.log(`bar: ${i}`);
        sleepSync(Math.random() * delay);
        yield 'foo';
      }
    },
  },
  'foo',
);

// 3. gevent.joinall([gevent.spawn(foo), gevent.spawn(bar)]): async functions on the
//    event loop. Every await of I/O or a timer lets the other run, with no monkey
//    patching: Node's I/O never blocks the thread. The total is about the longest wait,
//    not the sum, as with gevent.
const unit = Math.max(delay, 20);
const started = performance.now();
await gather([
  (async () => {
    console.log('running in foo');
    await sleep(2 * unit); // gevent.sleep(2)
    console.log('switch to foo again');
  })(),
  (async () => {
    console.log('switch to bar');
    await sleep(5 * unit);
    console.log('switch to bar again');
  })(),
]);
console.log(`both done in ${Math.round(performance.now() - started)} ms: the longest wait (${5 * unit} ms), not the sum (${7 * unit} ms)`);
