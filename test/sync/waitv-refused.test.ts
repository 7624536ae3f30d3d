// A kernel with futex_waitv behind a seccomp profile that predates it (containers) answers
// EPERM, not ENOSYS: the addon must take the one-word path there, not call futex_waitv in
// a loop that fails at once. A preloaded shim plays that profile and counts the calls.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { native } from '../../src/sync/shm.js';

const SHIM = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
static long calls;
long syscall(long nr, ...) {
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, nr);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long), d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  if (nr == 449) {
    __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    errno = EPERM;
    return -1;
  }
  return real(nr, a, b, c, d, e, f);
}
__attribute__((destructor)) static void report(void) { fprintf(stderr, "futex_waitv calls: %ld\\n", calls); }
`;

// One wait that times out, one that is woken, then half a second with nothing pending.
const PROGRAM = `
const n = require(process.argv[1]);
const sab = n.createRegion(4096);
const v = new Int32Array(sab);
n.waitAsync(sab, 0, 0, 100, (timedOut) => {
  n.waitAsync(sab, 4, 0, 5000, (woken) => {
    console.log('results', timedOut, woken);
    setTimeout(() => {}, 500);
  });
  setTimeout(() => { Atomics.store(v, 1, 1); n.wake(sab, 4, 1); }, 50);
});
`;

/** The addon shm.ts loads: the first build/Release up from here (the tests run from a mirror under build/). */
function addonPath(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'build', 'Release', 'concur_shm.node');
    if (existsSync(file)) return file;
  }
  throw new Error('no build/Release/concur_shm.node above this test');
}

describe('futex_waitv refused by a seccomp profile', () => {
  it('async waits take the one-word path instead of retrying futex_waitv', { skip: native === undefined ? 'no native part' : false }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'concur-waitv-'));
    try {
      const shim = join(dir, 'eperm.so');
      writeFileSync(join(dir, 'eperm.c'), SHIM);
      execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', shim, join(dir, 'eperm.c'), '-ldl']);
      const r = spawnSync(process.execPath, ['-e', PROGRAM, addonPath()], { env: { ...process.env, LD_PRELOAD: shim, CONCUR_FUTEX_WAITV: '1' }, encoding: 'utf8', timeout: 20_000 });
      assert.match(r.stdout, /results 2 [01]/, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      const calls = Number(/futex_waitv calls: (\d+)/.exec(r.stderr)?.[1]);
      // The probe's one call; a waiter thread that retried would have made thousands.
      assert.ok(calls <= 1, `futex_waitv called ${calls} times`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
