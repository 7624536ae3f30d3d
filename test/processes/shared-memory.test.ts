// Primitives in memory every process of the tree maps (src/sync/shm.ts, shm-crossing.ts):
// they cross into a child as the same memory, wait and wake through the kernel, recover
// from a holder that was SIGKILLed, and leave nothing behind. Under CONCUR_NO_NATIVE=1
// (npm test runs this file that way too) the same programs run on owner-served proxies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, ftruncateSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  Process,
  RLock,
  Semaphore,
  SharedArray,
  SharedLifoQueue,
  SharedPriorityQueue,
  SharedQueue,
  Value,
  sleep,
} from '../../src/index.js';
import { native, nativeMissing, openView, viewRef, type ViewRef } from '../../src/sync/shm.js';
import { own, TSX } from '../fixtures/source.js';
import { shmTasks } from '../fixtures/shm-tasks.js';

const inMemory = native !== undefined;

describe('primitives in shared memory between processes', () => {
  it('the native part is loaded where it is built (always in CI on Linux x64, unless CONCUR_NO_NATIVE=1)', () => {
    const expected = process.env.CI === 'true' && process.platform === 'linux' && process.arch === 'x64' && process.env.CONCUR_NO_NATIVE !== '1';
    if (expected) assert.equal(native !== undefined, true, `native part missing in CI: ${nativeMissing}`);
    if (process.env.CONCUR_NO_NATIVE === '1') assert.equal(native, undefined);
  });

  it('Lock, RLock, semaphores, Event, Value, SharedArray, SharedQueue, Condition and Barrier arrive as memory; the ordered queues as proxies', async () => {
    const { ProcessPoolExecutor } = await import('../../src/index.js');
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const seen = await pool.submit(
      shmTasks.kinds,
      new Lock(),
      new RLock(),
      new Semaphore(2),
      new BoundedSemaphore(1),
      new Event(),
      new Value('i32', 3),
      new SharedArray('f64', 4),
      new SharedQueue(),
      new Condition(),
      new Barrier(2),
      new SharedLifoQueue(),
      new SharedPriorityQueue(),
    ).result();
    const names = seen.map(([name]) => name);
    const memory = seen.map(([, m]) => m);
    assert.deepEqual(memory, [...Array<boolean>(10).fill(inMemory), false, false]);
    const kinds = ['Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Event', 'Value', 'SharedArray', 'SharedQueue', 'Condition', 'Barrier'];
    if (inMemory) assert.deepEqual(names.slice(0, 10), kinds);
    else assert.deepEqual(names.slice(7, 10), ['RemoteSharedQueue', 'RemoteCondition', 'RemoteBarrier']);
    assert.deepEqual(names.slice(10), ['RemoteSharedQueue', 'RemoteSharedQueue']);
  });

  it("a Value of each element type carries its extremes both ways; a write of the wrong kind (a number into 'i64') throws at the write, as here", { timeout: 60_000 }, async () => {
    const { ProcessPoolExecutor } = await import('../../src/index.js');
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const cases: Array<[string, number | bigint]> = [
      ['i8', -128], ['u8', 255], ['i16', -32768], ['u16', 65535], ['i32', -(2 ** 31)], ['u32', 2 ** 32 - 1],
      ['f32', 0.5], ['f64', Math.PI], ['i64', -(2n ** 63n)], ['u64', 2n ** 64n - 1n],
    ];
    const values = cases.map(([type]) => new Value(type as 'f64'));
    const back = await pool.submit(shmTasks.writeEach, ...cases.flatMap(([, x], i) => [values[i]!, x])).result();
    assert.deepEqual(back, cases.map(([, x]) => x), 'the child reads back what it wrote');
    assert.deepEqual(values.map((v) => v.value), cases.map(([, x]) => x), 'and so does the parent');
    const here = (v: Value<'i64'> | Value<'i32'>, x: number | bigint): string => {
      try {
        (v as { value: number | bigint }).value = x;
        return 'ok';
      } catch (err) {
        return `${(err as Error).constructor.name}: ${(err as Error).message}`;
      }
    };
    const big = new Value('i64', 7n);
    const small = new Value('i32', 7);
    for (const [v, x] of [[big, 5], [small, 5n], [small, 1.5]] as const) {
      const expected = here(v, x);
      assert.match(expected, /^TypeError/);
      assert.equal(await pool.submit(shmTasks.writeValue, v, x).result(), expected, 'the same error, at the write');
    }
    assert.equal(big.value, 7n);
    assert.equal(small.value, 7);
    // A SharedArray's elements the same way; and an index past its end is ignored, as a typed array ignores it.
    const bigs = new SharedArray('i64', 2);
    const smalls = new SharedArray('i32', 2);
    const write = (a: SharedArray<'i64'> | SharedArray<'i32'>, i: number, x: number | bigint): string => {
      try {
        (a.array as unknown as Array<number | bigint>)[i] = x;
        return 'ok';
      } catch (err) {
        return `${(err as Error).constructor.name}: ${(err as Error).message}`;
      }
    };
    for (const [a, i, x] of [[bigs, 0, 5], [smalls, 0, 5n], [bigs, 2, 1n], [smalls, 9, 1]] as const) {
      assert.equal(await pool.submit(shmTasks.writeElement, a, i, x).result(), write(a, i, x), `array[${i}] = ${x}`);
    }
    assert.deepEqual([...bigs.array, ...smalls.array], [0n, 0n, 0, 0]);
  });

  it('two processes and a grandchild count exactly under one Lock', { timeout: 120_000 }, async () => {
    const lock = new Lock();
    const v = new Value('i32', 0);
    const go = new Event();
    // Through proxies each increment is two round trips: fewer there.
    const n = inMemory ? 20_000 : 2_000;
    const a = new Process({ target: shmTasks.count, args: [lock, v, go, n] }).start();
    const b = new Process({ target: shmTasks.countInGrandchild, args: [lock, v, go, n] }).start();
    go.set();
    // This thread takes part too, with the Promise form.
    for (let i = 0; i < n / 10; i++) {
      assert.equal(await lock.acquire(), true);
      v.value += 1;
      lock.release();
    }
    await Promise.all([a.join(), b.join()]);
    assert.deepEqual([a.exitCode, b.exitCode], [0, 0]);
    assert.equal(v.value, 2 * n + n / 10);
    assert.equal(lock.locked(), false);
  });

  it("a put into a queue the parent serves lands before the child's Barrier arrival lets the parent through", { timeout: 60_000, skip: inMemory ? false : "a proxy's call settles only the puts into its own object" }, async () => {
    // The ordered queue crosses as a proxy, whose puts are sent ahead; the Barrier is memory.
    const q = new SharedLifoQueue<number>();
    const b = new Barrier(2);
    const n = 50;
    const p = new Process({ target: shmTasks.putThenArrive as never, args: [q, b, n] }).start();
    const missing: number[] = [];
    for (let i = 0; i < n; i++) {
      await b.wait(20_000);
      if (q.qsize() === 0) missing.push(i);
      else assert.equal(q.getNowait(), i);
      await b.wait(20_000);
    }
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.deepEqual(missing, [], 'puts had not landed when the Barrier let the parent through');
  });

  it('an Event and a Semaphore wake a waiter in the other process, both ways', { timeout: 60_000 }, async () => {
    const ask = new Event();
    const answered = new Event();
    const sem = new Semaphore(0);
    const p = new Process({ target: shmTasks.answer, args: [ask, answered, sem] }).start();
    ask.set();
    assert.equal(await answered.wait(20_000), true);
    assert.equal(sem.acquireSync({ timeout: 20_000 }), true);
    assert.equal(await sem.acquire({ timeout: 20_000 }), true);
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  it("a child's acquire() waits for the parent's Lock with its event loop running, and gets it on release", { timeout: 60_000 }, async () => {
    const lock = new Lock();
    const started = new Event();
    lock.acquireSync();
    const { ProcessPoolExecutor } = await import('../../src/index.js');
    await using pool = new ProcessPoolExecutor({ maxWorkers: 1 });
    const f = pool.submit(shmTasks.acquireWhileTicking, lock, started);
    assert.equal(await started.wait(30_000), true);
    await sleep(100);
    lock.release();
    const { got, ticks } = await f.result();
    assert.equal(got, true);
    assert.ok(ticks > 0, 'timers ran while the child waited');
  });

  it('a reference to memory that lies (wrong types, out of range, not a region) is refused with an error, never a crash', () => {
    const good = { $shmView: 'Int32Array', pid: process.pid, fd: 0, ino: 1, size: 4096, byteOffset: 0, length: 4 };
    const lies: object[] = [
      { ...good, pid: 'me' },
      { ...good, $shmView: 'Function' },
      { ...good, $shmView: 'constructor' },
      { ...good, byteOffset: 4094 },
      { ...good, length: 2 ** 40 },
      { ...good, size: -1 },
      good, // fd 0 is not a region of that inode
      { ...good, pid: 2 ** 22 + 12345 }, // no such process
    ];
    for (const ref of lies) assert.throws(() => openView(ref as ViewRef), Error, JSON.stringify(ref));
    if (native === undefined) return;
    const sab = new SharedArrayBuffer(8);
    assert.throws(() => native!.wait({} as SharedArrayBuffer, 0, 0, 1), TypeError);
    assert.throws(() => native!.wait(sab, 'x' as unknown as number, 0, 1), TypeError);
    assert.throws(() => native!.wake(sab, 6, 1), RangeError);
    assert.throws(() => native!.wake(sab, 8, 1), RangeError);
    assert.throws(() => native!.wake(sab, -4, 1), RangeError);
    assert.equal(native.wake(sab, 4, NaN), 0);
    assert.throws(() => native!.waitAsync(sab, 0, 0, 1, 'no' as never), TypeError);
    assert.throws(() => native!.createRegion(-5), /EINVAL|Invalid/);
    assert.throws(() => native!.openRegion(1.5, 0, 0, 0), /EINVAL|Invalid/);
    assert.equal(native.regionOf('x' as never), undefined);
  });

  it('a region cannot be shrunk by a process that opens it through /proc (every process mapping it would die of SIGBUS), and a file that is not such a region is refused', { skip: inMemory ? false : 'no regions without the native part' }, () => {
    // Any process of the tree can open a region as a receiver does; a shrink from there
    // (a bug, a hostile child) would crash each process at its next touch of the memory.
    const array = new SharedArray('u8', 1 << 18); // a region of its own, touched by nothing after
    const [fd] = native!.regionOf(array.array.buffer as unknown as SharedArrayBuffer)!;
    const opened = openSync(`/proc/${process.pid}/fd/${fd}`, 'r+');
    try {
      assert.throws(() => ftruncateSync(opened, 0), { code: 'EPERM' });
      assert.throws(() => ftruncateSync(opened, 1 << 20), { code: 'EPERM' });
    } finally {
      closeSync(opened);
    }
    assert.equal(array.array[array.length - 1], 0);
    // An ordinary file any process can truncate, named by a reference that lies: refused.
    const file = join(mkdtempSync(join(tmpdir(), 'concur-region-')), 'plain');
    writeFileSync(file, Buffer.alloc(4096));
    const plain = openSync(file, 'r+');
    try {
      assert.throws(() => native!.openRegion(process.pid, plain, fstatSync(plain).ino, 4096), /not a region|EPERM|Operation not permitted/);
    } finally {
      closeSync(plain);
      rmSync(dirname(file), { recursive: true, force: true });
    }
  });

  it('a receiver out of file descriptors that cannot map a region says so, not that its sender exited', { skip: inMemory ? false : 'no regions without the native part' }, () => {
    const lock = new Lock();
    const probe = fileURLToPath(new URL(own('../fixtures/emfile-map-probe.ts'), import.meta.url));
    const ref = JSON.stringify(viewRef(lock._state));
    const r = spawnSync('bash', ['-c', `ulimit -Sn 128; exec "${process.execPath}" ${TSX.join(' ')} "${probe}" '${ref}'`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const { full, said } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { full: boolean; said: string };
    assert.equal(full, true, 'the probe ran out of file descriptors');
    assert.match(said, /cannot map the shared memory of a primitive sent by process \d+: .*Too many open files/);
    assert.doesNotMatch(said, /sender exited/, 'this process (the sender) is alive: the receiver is the one out of descriptors');
    assert.equal(lock.acquireSync({ timeout: 0 }), true);
    lock.release();
  });

  it('200 coroutines awaiting one Lock share a waiter thread: the thread count stays bounded, and each gets it in turn', { timeout: 60_000 }, async () => {
    const threads = (): number => readdirSync('/proc/self/task').length;
    const lock = new Lock();
    const before = threads();
    lock.acquireSync();
    let inside = 0;
    let most = 0;
    const all = Array.from({ length: 200 }, async () => {
      assert.equal(await lock.acquire({ timeout: 30_000 }), true);
      most = Math.max(most, ++inside);
      await sleep(0);
      inside--;
      lock.release();
    });
    await sleep(300);
    assert.ok(threads() <= before + 33, `threads: ${before} before, ${threads()} while 200 wait`);
    lock.release();
    await Promise.all(all);
    assert.equal(most, 1, 'one holder at a time');
    assert.equal(lock.locked(), false);
  });
});
