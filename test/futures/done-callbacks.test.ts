import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AsyncExecutor, Future, ThreadPoolExecutor } from '../../src/index.js';
import { tasks } from '../fixtures/tasks.js';
import { own, TSX } from '../fixtures/source.js';

const program = fileURLToPath(new URL(own('../fixtures/failing-callbacks.ts'), import.meta.url));

/** Collects console.error lines; `next()` resolves with the next one logged. */
function captureErrors(t: TestContext): { lines: string[]; next: () => Promise<string> } {
  const lines: string[] = [];
  let waiter: ((line: string) => void) | undefined;
  t.mock.method(console, 'error', (...args: unknown[]) => {
    const line = args.map(String).join(' ');
    lines.push(line);
    waiter?.(line);
    waiter = undefined;
  });
  return { lines, next: () => new Promise((resolve) => (waiter = resolve)) };
}

/** Resolves with the reason of the next unhandled rejection, if one comes. */
function nextUnhandled(t: TestContext): Promise<unknown> {
  return new Promise((resolve) => {
    const on = (reason: unknown): void => resolve(reason);
    process.once('unhandledRejection', on);
    t.after(() => process.off('unhandledRejection', on));
  });
}

describe('failing done callbacks', () => {
  for (const kind of ['async', 'thread'] as const) {
    it(`a program whose async and sync callbacks fail logs them and runs to its end (${kind})`, { timeout: 90_000 }, () => {
      const r = spawnSync(process.execPath, [...TSX, program, kind], { encoding: 'utf8', timeout: 80_000 });
      assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
      assert.equal(r.stdout, 'carried on: 4 third callback ran\n');
      // One line per failing callback, each naming the task and the error, never the Future's internals.
      assert.match(r.stderr, /callback of task failIf\b.*\n(.*\n)*.*RangeError: bad item 3/);
      assert.match(r.stderr, /callback of task failIf\b.*\n(.*\n)*.*TypeError: sync callback broke/);
      assert.doesNotMatch(r.stderr, /fnId|Item \{|retriesLeft|\[Future/);
      assert.doesNotMatch(r.stderr, /Unhandled|unhandled/);
    });
  }

  it('an async callback that rejects is logged, not an unhandled rejection', { timeout: 30_000 }, async (t) => {
    const log = captureErrors(t);
    const unhandled = nextUnhandled(t);
    await using ex = new AsyncExecutor();
    const f = ex.submit(async function fetchPage(): Promise<never> {
      throw new RangeError('no such page');
    });
    f.addDoneCallback(async (g) => {
      await g.result();
    });
    const first = await Promise.race([log.next(), unhandled.then((reason) => `unhandled: ${String(reason)}`)]);
    assert.match(first, /^concur: exception calling a done callback of task fetchPage \(FINISHED\)/);
    assert.match(first, /RangeError: no such page/);
  });

  it('a callback returning a thenable whose then throws is logged too', { timeout: 30_000 }, async (t) => {
    const log = captureErrors(t);
    const f = new Future();
    const logged = log.next();
    f.addDoneCallback(() => ({
      get then(): never {
        throw new Error('then getter exploded');
      },
    }) as unknown as void);
    f.cancel();
    assert.match(await logged, /exception calling a done callback of a Future \(CANCELLED\).*\n?.*then getter exploded/);
  });

  it('the log of a throwing callback names the pool task and the error, not the internals', { timeout: 30_000 }, async (t) => {
    const log = captureErrors(t);
    await using pool = new ThreadPoolExecutor({ maxWorkers: 1 });
    const f = pool.submit(tasks.add, 1, 2);
    await f;
    f.addDoneCallback(() => {
      throw new SyntaxError('bad callback');
    });
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!, /^concur: exception calling a done callback of task add \(FINISHED\)/);
    assert.match(log.lines[0]!, /SyntaxError: bad callback/);
    // Internal fields as an object dump shows them ('fnId: 3'), not words a file path may hold.
    assert.doesNotMatch(log.lines[0]!, /\b(?:fnId|slot|timer)\b\s*:/);
  });

  it('a callback throwing a hostile value is still logged and the others still run', { timeout: 30_000 }, (t) => {
    const log = captureErrors(t);
    const f = new Future();
    const ran: string[] = [];
    class Nasty extends Error {
      override get message(): string {
        throw new Error('message getter');
      }
      override get stack(): string {
        throw new Error('stack getter');
      }
    }
    const everyTrap = new Proxy({}, {
      get() { throw new Error('trap'); },
      getPrototypeOf() { throw new Error('trap'); },
      ownKeys() { throw new Error('trap'); },
      getOwnPropertyDescriptor() { throw new Error('trap'); },
      has() { throw new Error('trap'); },
    });
    f.addDoneCallback(() => {
      throw new Nasty();
    });
    f.addDoneCallback(() => {
      throw everyTrap;
    });
    f.addDoneCallback(() => ran.push('last'));
    f.setRunningOrNotifyCancel();
    f.setResult(1);
    assert.deepEqual(ran, ['last']);
    assert.equal(log.lines.length, 2);
    for (const line of log.lines) assert.match(line, /^concur: exception calling a done callback of a Future \(FINISHED\)/);
  });
});
